import HeraldTesting
import Foundation
import Herald
import Testing

/// The demo pages in a real browser: headless Chromium driven by selenium (Tests/python/demo_browser.py)
/// against a demo node with fast intervals. Screenshots go to artifacts/screenshots/.
/// `scripts/test.sh` installs chromium, chromium-driver and selenium; in CI a missing one fails the run.
@Suite(.serialized, .enabled(if: TestEnvironment.python != nil || TestEnvironment.isCI,
                              "HERALD_TEST_PYTHON is unset: run scripts/test.sh to set up selenium and chromium"))
struct DemoBrowserTests {
    @Test func pagesWorkInChromium() async throws {
        guard let python = TestEnvironment.python else {
            Issue.record("CI is set but HERALD_TEST_PYTHON is not: run scripts/test.sh, which installs selenium and chromium")
            return
        }
        try await withDemoNode { _, port in
            let root = TestEnvironment.repositoryRoot
            let script = root.appendingPathComponent("Tests/python/demo_browser.py").path
            let screenshots = root.appendingPathComponent("artifacts/screenshots").path
            // The restart check runs `herald demo` itself (built by `swift build --build-tests` into .build/debug).
            let herald = root.appendingPathComponent(".build/debug/herald").path
            #expect(FileManager.default.isExecutableFile(atPath: herald), "\(herald) missing: run swift build --build-tests")
            let run = try await runProcess(python, [script, "http://127.0.0.1:\(port)", screenshots, herald], timeout: .seconds(300))
            #expect(run.status == 0, "demo_browser.py exited \(run.status)\nstdout: \(run.stdout)\nstderr: \(run.stderr)")
            #expect(run.stdout.contains(#""ok": true"#), "stdout: \(run.stdout)")
            for name in ["orders", "chat-alice", "chat-bob", "dashboard"] {
                #expect(FileManager.default.fileExists(atPath: "\(screenshots)/\(name).png"), "screenshot \(name).png missing")
            }
        }
    }
}
