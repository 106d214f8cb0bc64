package org.fleeced.daemon.api;

import io.vertx.json.schema.OutputUnit;
import io.vertx.openapi.validation.SchemaValidationException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * What a failed schema validation tells the caller: the innermost rule that failed (the JSON
 * Schema keyword, such as {@code type}, {@code pattern}, {@code minimum}) and where (a JSON pointer
 * into the body, or the parameter). Vert.x's own message reports the outermost failure, which for
 * every error inside an object whose schema sets {@code additionalProperties: false} is the
 * unhelpful "does not match additional properties schema"; the validator's output unit holds the
 * whole tree, and the innermost error in it is the one a caller can act on.
 */
final class SchemaFinding {
    /** Keywords that only report that something below them failed: never the rule a caller broke. */
    private static final Set<String> APPLICATORS = Set.of("properties", "additionalProperties", "items",
            "prefixItems", "$ref", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas");

    private SchemaFinding() {
    }

    /**
     * "body property /create/sizeBytes: Instance type string is invalid. Expected integer (rule
     * 'type' at #/properties/create/properties/sizeBytes/type)", or the validator's message when
     * its output says nothing more.
     */
    static String describe(SchemaValidationException e) {
        OutputUnit innermost = innermost(e.getOutputUnit());
        if (innermost == null) {
            return e.getMessage();
        }
        String pointer = pointer(innermost);
        String where = pointer.isEmpty() ? "the body" : "body property " + pointer;
        boolean parameter = e.getMessage() != null && e.getMessage().contains("parameter");
        if (parameter) {
            where = e.getMessage().replaceAll("\\.$", "");
        }
        return where + ": " + innermost.getError() + " (rule '" + keyword(innermost) + "' at "
                + innermost.getKeywordLocation() + ")";
    }

    /**
     * The failing unit deepest in the instance; among those at one depth, the first whose keyword
     * is a rule of its own rather than an applicator reporting its children.
     */
    static OutputUnit innermost(OutputUnit root) {
        List<OutputUnit> failed = new ArrayList<>();
        collect(root, failed);
        OutputUnit best = null;
        for (OutputUnit u : failed) {
            if (best == null || rank(u) > rank(best)) {
                best = u;
            }
        }
        return best;
    }

    /** Depth in the instance first, then a rule of its own over an applicator. */
    private static int rank(OutputUnit u) {
        int depth = (int) pointer(u).chars().filter(c -> c == '/').count();
        return 2 * depth + (APPLICATORS.contains(keyword(u)) ? 0 : 1);
    }

    private static void collect(OutputUnit unit, List<OutputUnit> into) {
        if (unit == null) {
            return;
        }
        if (unit.getError() != null && unit.getKeywordLocation() != null) {
            into.add(unit);
        }
        if (unit.getErrors() != null) {
            for (OutputUnit child : unit.getErrors()) {
                collect(child, into);
            }
        }
    }

    /** The JSON pointer (RFC 6901) of the failing value: "" for the body itself, "/create/sizeBytes" below it. */
    private static String pointer(OutputUnit u) {
        String at = u.getInstanceLocation() == null ? "" : u.getInstanceLocation();
        return at.startsWith("#") ? at.substring(1) : at;
    }

    /** The last segment of the keyword location: the keyword itself. */
    private static String keyword(OutputUnit u) {
        String location = u.getKeywordLocation();
        return location.substring(location.lastIndexOf('/') + 1);
    }
}
