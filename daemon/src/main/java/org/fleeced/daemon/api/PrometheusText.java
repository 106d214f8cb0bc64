package org.fleeced.daemon.api;

import java.util.Map;

/** Builds a Prometheus text-format (0.0.4) exposition, one metric family at a time. */
public final class PrometheusText {
    private final StringBuilder out = new StringBuilder(4096);

    public PrometheusText gauge(String name, String help, double value) {
        return family(name, help, "gauge").sample(name, Map.of(), value);
    }

    public PrometheusText counter(String name, String help, double value) {
        return family(name, help, "counter").sample(name, Map.of(), value);
    }

    /** Starts a family; follow with {@link #sample} lines. */
    public PrometheusText family(String name, String help, String type) {
        out.append("# HELP ").append(name).append(' ').append(help.replace("\n", " ")).append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
        return this;
    }

    public PrometheusText sample(String name, Map<String, String> labels, double value) {
        out.append(name);
        if (!labels.isEmpty()) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<String, String> l : new java.util.TreeMap<>(labels).entrySet()) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                out.append(l.getKey()).append("=\"").append(escape(l.getValue())).append('"');
            }
            out.append('}');
        }
        out.append(' ');
        if (value == Math.rint(value) && !Double.isInfinite(value)) {
            out.append((long) value);
        } else {
            out.append(value);
        }
        out.append('\n');
        return this;
    }

    private static String escape(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    @Override
    public String toString() {
        return out.toString();
    }
}
