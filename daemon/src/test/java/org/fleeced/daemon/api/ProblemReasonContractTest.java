package org.fleeced.daemon.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.fleeced.daemon.host.ProblemReason;
import org.junit.jupiter.api.Test;

/**
 * The reason codes are a contract, checked both ways as the operationIds are: every code the
 * daemon can send is in openapi.yaml's enum of {@code Problem.reason}, every code there is one the
 * daemon sends, and the description gives each the status and errnos {@link ProblemReason} gives it.
 */
class ProblemReasonContractTest {
    /** One line of the description: {@code - `CODE` (STATUS ERRNO[, ERRNO...]): sentence}. */
    private static final Pattern LINE = Pattern.compile("^- `([A-Z_]+)` \\((\\d{3}) ([A-Z]+(?:, [A-Z]+)*)\\): \\S.*$",
            Pattern.MULTILINE);

    private final ApiContract contract = ApiContract.load();

    @Test
    void theSpecListsExactlyTheCodesTheDaemonSends() {
        List<String> code = Arrays.stream(ProblemReason.values()).map(Enum::name).sorted().toList();
        List<String> spec = contract.problemReasons().stream().sorted().toList();
        assertEquals(code, spec, "ProblemReason and openapi.yaml's Problem.reason enum");
    }

    @Test
    void eachCodeIsDescribedOnceWithItsStatusAndErrnos() {
        Map<String, String> described = new LinkedHashMap<>();
        Matcher m = LINE.matcher(contract.problemReasonDescription());
        while (m.find()) {
            String previous = described.put(m.group(1), m.group(2) + " " + m.group(3));
            assertEquals(null, previous, m.group(1) + " is described twice");
        }
        Map<String, String> code = new LinkedHashMap<>();
        for (ProblemReason r : ProblemReason.values()) {
            code.put(r.name(), r.status() + " " + String.join(", ", r.errnos()));
        }
        assertEquals(code, described, "status and errnos in ProblemReason and in Problem.reason's description");
    }

    @Test
    void aProblemCarriesOnlyAnErrnoItsReasonAllows() {
        assertEquals("EROFS", new ApiProblem(ProblemReason.NOT_PERMITTED, "EROFS", "read-only").errno());
        assertEquals(409, new ApiProblem(ProblemReason.JOB_RUNNING, "busy").status());
        assertThrows(IllegalArgumentException.class, () -> new ApiProblem(ProblemReason.JOB_RUNNING, "EIO", "busy"));
    }
}
