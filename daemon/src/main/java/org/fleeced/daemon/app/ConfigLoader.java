package org.fleeced.daemon.app;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

/**
 * Reads the configuration: the embedded defaults, then the user's file (JSON or YAML; YAML is a
 * superset of JSON, so one parser reads both) merged over them key by key, so a file names only
 * what it changes.
 */
public final class ConfigLoader {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory())
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, true)
            .configure(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES, true);

    private ConfigLoader() {
    }

    public static DaemonConfig load(Path file) throws UsageException {
        JsonNode merged = defaults();
        if (file != null) {
            JsonNode user;
            try {
                user = YAML.readTree(Files.readString(file));
            } catch (IOException e) {
                throw new UsageException("cannot read config " + file + ": " + e.getMessage());
            }
            if (user != null && !user.isMissingNode() && !user.isNull()) {
                if (!user.isObject()) {
                    throw new UsageException("config " + file + " must be a mapping of keys, not " + user.getNodeType());
                }
                merge((ObjectNode) merged, (ObjectNode) user);
            }
        }
        try {
            return YAML.treeToValue(merged, DaemonConfig.class);
        } catch (IOException e) {
            throw new UsageException("invalid config" + (file == null ? "" : " " + file) + ": " + e.getMessage());
        }
    }

    private static JsonNode defaults() {
        try (InputStream in = ConfigLoader.class.getResourceAsStream("/org/fleeced/daemon/default-config.yaml")) {
            return YAML.readTree(in);
        } catch (IOException e) {
            throw new IllegalStateException("the embedded default configuration is unreadable", e);
        }
    }

    private static void merge(ObjectNode base, ObjectNode override) {
        Iterator<Map.Entry<String, JsonNode>> fields = override.fields();
        while (fields.hasNext()) {
            Map.Entry<String, JsonNode> field = fields.next();
            JsonNode current = base.get(field.getKey());
            if (current instanceof ObjectNode currentObject && field.getValue() instanceof ObjectNode overrideObject) {
                merge(currentObject, overrideObject);
            } else {
                base.set(field.getKey(), field.getValue());
            }
        }
    }
}
