package org.fleeced.daemon.app;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.deser.std.StdScalarDeserializer;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.ToStringSerializer;
import java.io.IOException;
import java.time.Instant;
import org.fleeced.daemon.host.JobHistory;

/**
 * The records of {@code STATE_DIR/jobs.history} as one JSON object per line; instants as their
 * ISO-8601 text. Fields it does not know are skipped, so an older daemon reads a newer history.
 */
public final class JobHistoryJson implements JobHistory.Codec {
    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
            .registerModule(new SimpleModule().addSerializer(Instant.class, ToStringSerializer.instance)
                    .addDeserializer(Instant.class, new InstantText()));

    @Override
    public String write(JobHistory.Entry entry) throws IOException {
        return JSON.writeValueAsString(entry);
    }

    @Override
    public JobHistory.Entry read(String line) throws IOException {
        return JSON.readValue(line, JobHistory.Entry.class);
    }

    /** An {@link Instant} from its ISO-8601 text, as {@link Instant#toString} writes it. */
    private static final class InstantText extends StdScalarDeserializer<Instant> {
        InstantText() {
            super(Instant.class);
        }

        @Override
        public Instant deserialize(JsonParser p, DeserializationContext ctx) throws IOException {
            return Instant.parse(p.getValueAsString());
        }
    }
}
