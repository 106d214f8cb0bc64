/**
 * Real test nodes, exported in the fleecing module's test-jar so that every module's tests use the
 * same ones (Lucene's test framework is a module too): no mocks, no per-module rewrites.
 *
 * <pre>
 *   ControllableNode   a filter over any node: pauses, fails (an errno) and counts calls on demand
 *   MemoryNode         bytes in an array, allocation per 4 KiB page; a small disk for server tests
 *   GatedNode          keeps only a CRC per write and holds every write until opened; a large,
 *                      slow disk for back-pressure and shutdown tests
 * </pre>
 *
 * Fault injection is a {@link org.fleeced.block.testing.ControllableNode} stacked on the node,
 * never a flag inside it, so one wrapper serves every node.
 */
package org.fleeced.block.testing;
