package org.fleeced.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * Issue #18's status page in a real browser: headless Chromium driven by Selenium's ChromeDriver
 * (Debian's {@code chromium} and {@code chromium-driver}; nothing is downloaded) against a real
 * daemon. Disks and jobs are made through the API; the page must show them, follow a job's
 * progress without a reload, and draw each checkpoint chain with its states. Skipped when no
 * browser is installed.
 */
class StatusPageIT {
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    private static final Duration PATIENCE = Duration.ofSeconds(60);

    @TempDir
    Path dir;
    private ChromeDriver browser;

    @BeforeAll
    static void tools() {
        assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)");
        Tool.require("qemu-img", "qemu-io", "nbdcopy");
    }

    @BeforeEach
    void openBrowser() {
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort()
                .withLogFile(dir.resolve("chromedriver.log").toFile()).build();
        ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM.toFile())
                // root in CI: Chromium's sandbox needs a user namespace it does not get there
                .addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1100");
        browser = new ChromeDriver(service, options);
    }

    @AfterEach
    void closeBrowser() {
        if (browser != null) {
            browser.quit();
        }
    }

    @Test
    void thePageShowsDisksJobsLiveProgressAndTheCheckpointChain() throws Exception {
        try (DaemonUnderTest daemon = DaemonUnderTest.start(dir)) {
            HttpResponse<String> page = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create(daemon.rest().base() + "/")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, page.statusCode(), "the page itself needs no token");
            assertTrue(page.headers().firstValue("content-type").orElse("").startsWith("text/html"));
            daemon.rest().get("v1/disks").expect(200); // the API still does: the harness sends its token

            daemon.attachNewQcow2("vm1", 32L << 20);
            // all data, no holes: a reader then reads every readable byte, and the bar reaches 100 %
            NbdDriver.write(daemon.nbdUri("vm1"), "-P 0x11 0 32M");
            daemon.attachNewQcow2("vm2", 8L << 20);
            open(daemon);
            WebElement disk = waitFor(By.cssSelector("#disks tr[data-disk='vm1']"));
            assertEquals("32 MiB", disk.findElement(By.cssSelector("td:nth-child(3)")).getText());
            assertEquals("32 MiB", disk.findElement(By.cssSelector("td:nth-child(4)")).getText(), "allocated");
            assertEquals("0 B", browser.findElement(By.cssSelector("#disks tr[data-disk='vm2'] td:nth-child(4)"))
                    .getText(), "allocated");
            assertTrue(disk.getText().contains(daemon.nbdUri("vm1")), disk.getText());
            waitFor(By.cssSelector(".chain[data-disk='vm1']"));
            assertTrue(text(".chain[data-disk='vm1']").contains("no checkpoints"), text(".chain[data-disk='vm1']"));
            ((JavascriptExecutor) browser).executeScript("window.notReloaded = true;");

            // a job appears, its reader's progress moves from 0 % to 100 %, it finishes: no reload
            JsonNode job = daemon.rest().startJob(RestClient.jobRequest("c1", "vm1"));
            String id = job.get("id").asText();
            By row = By.cssSelector("#jobs tr[data-job='" + id + "']");
            waitFor(row);
            assertEquals("0", browser.findElement(By.cssSelector("#jobs tr[data-job='" + id + "'] progress"))
                    .getDomAttribute("value"));
            NbdDriver.copy(daemon.fleeceUri(job, "vm1"), dir.resolve("full.raw"));
            until(() -> "100".equals(browser.findElement(By.cssSelector("#jobs tr[data-job='" + id + "'] progress"))
                    .getDomAttribute("value")));
            screenshot();
            daemon.rest().finish(id, "success");
            until(() -> "finished".equals(browser.findElement(row).getDomAttribute("data-state")));

            // a second checkpoint: c1 is frozen, c2 records
            JsonNode job2 = daemon.rest().startJob(RestClient.jobRequest("c2", "vm1").put("incrementalFrom", "c1"));
            daemon.rest().finish(job2.get("id").asText(), "success");
            until(() -> List.of("frozen", "recording").equals(states("vm1")));
            assertTrue(text(".checkpoint[data-name='c1']").contains("frozen"), text(".checkpoint[data-name='c1']"));
            assertEquals(Boolean.TRUE, ((JavascriptExecutor) browser).executeScript("return window.notReloaded;"),
                    "everything above came without a reload");

            // after a crash the recording checkpoint comes back recovered, and the page says so
            daemon.kill();
            daemon.restart();
            open(daemon);
            until(() -> states("vm1").size() == 2 && states("vm1").get(1).equals("recovered"));
            assertEquals("ok", browser.findElement(By.id("health")).getDomAttribute("data-status"));
        }
    }

    /** Opens the page of the daemon's current run and gives it the token, as a user would. */
    private void open(DaemonUnderTest daemon) {
        browser.get(daemon.rest().base() + "/");
        WebElement token = waitFor(By.id("token"));
        new WebDriverWait(browser, PATIENCE).until(ExpectedConditions.visibilityOf(token));
        token.sendKeys(daemon.token());
        browser.findElement(By.cssSelector("#token-form button")).click();
        until(() -> "ok".equals(browser.findElement(By.id("health")).getDomAttribute("data-status")));
    }

    private List<String> states(String disk) {
        return browser.findElements(By.cssSelector(".chain[data-disk='" + disk + "'] .checkpoint")).stream()
                .map(e -> e.getDomAttribute("data-state")).toList();
    }

    private String text(String css) {
        return browser.findElement(By.cssSelector(css)).getText();
    }

    private WebElement waitFor(By what) {
        return new WebDriverWait(browser, PATIENCE).until(ExpectedConditions.presenceOfElementLocated(what));
    }

    private void until(java.util.function.BooleanSupplier condition) {
        new WebDriverWait(browser, PATIENCE).ignoring(org.openqa.selenium.StaleElementReferenceException.class)
                .ignoring(org.openqa.selenium.NoSuchElementException.class)
                .until(b -> condition.getAsBoolean());
    }

    /** The page with a job running, for the README (docs/status-page.png is a copy of it). */
    private void screenshot() throws Exception {
        File shot = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
        Path target = FleecedProcess.checkout().resolve("integration-tests/target/status-page.png");
        Files.createDirectories(target.getParent());
        Files.copy(shot.toPath(), target, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
}
