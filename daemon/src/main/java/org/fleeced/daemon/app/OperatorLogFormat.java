package org.fleeced.daemon.app;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.logging.ConsoleHandler;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * One line per event for operators: {@code 2026-11-22T10:00:00.123Z INFO  nbd: message}.
 * The logger's last name segment tells where it came from; stack traces follow only for
 * unexpected failures.
 */
public final class OperatorLogFormat extends Formatter {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ISO_INSTANT.withZone(ZoneOffset.UTC);

    /** Routes java.util.logging (and so Vert.x and the block layer's System.Logger) to stderr in this format. */
    public static void install() {
        Logger root = Logger.getLogger("");
        for (Handler old : root.getHandlers()) {
            root.removeHandler(old);
        }
        Handler handler = new ConsoleHandler();
        handler.setFormatter(new OperatorLogFormat());
        handler.setLevel(Level.ALL);
        root.addHandler(handler);
        root.setLevel(Level.INFO);
        Logger.getLogger("io.netty").setLevel(Level.WARNING);
        Logger.getLogger("io.vertx").setLevel(Level.WARNING);
    }

    @Override
    public String format(LogRecord record) {
        String name = record.getLoggerName() == null ? "" : record.getLoggerName();
        String source = name.substring(name.lastIndexOf('.') + 1);
        StringBuilder line = new StringBuilder(128)
                .append(TIME.format(Instant.ofEpochMilli(record.getMillis())))
                .append(' ').append(String.format("%-5s", levelName(record.getLevel())))
                .append(' ').append(source).append(": ").append(formatMessage(record))
                .append('\n');
        if (record.getThrown() != null) {
            StringWriter trace = new StringWriter();
            record.getThrown().printStackTrace(new PrintWriter(trace));
            line.append(trace);
        }
        return line.toString();
    }

    private static String levelName(Level level) {
        if (level.intValue() >= Level.SEVERE.intValue()) {
            return "ERROR";
        }
        if (level.intValue() >= Level.WARNING.intValue()) {
            return "WARN";
        }
        if (level.intValue() >= Level.INFO.intValue()) {
            return "INFO";
        }
        return "DEBUG";
    }
}
