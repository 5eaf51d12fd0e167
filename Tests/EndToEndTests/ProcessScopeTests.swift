import Foundation
import InboxTesting
import Testing

/// `withProcesses` stops what a test started on every way out: a failing `#require` inside
/// the scope, and the death of the test process itself.
@Suite(.serialized, .timeLimit(.minutes(2))) struct ProcessScopeTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-scope-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// The live processes of group `group`.
    private static func members(ofGroup group: pid_t) -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 3 && fields[0] != "Z" && pid_t(fields[3]) == group ? pid : nil
        }
    }

    /// Starts `wabox serve`, and a tmux server whose pane starts a child of its own; returns
    /// every process id, the tmux socket last.
    private static func startEverything(in scope: ProcessScope, directory: URL) async throws -> (pids: [pid_t], socket: String) {
        let serve = try scope.start(try waboxBinary(), ["serve", "--db", directory.appendingPathComponent("inbox.sqlite").path,
                                                        "--listen", "127.0.0.1:0"],
                                    environment: ["WABOX_APP_SECRET": Fixtures.appSecret, "WABOX_VERIFY_TOKEN": Fixtures.verifyToken,
                                                  "XDG_CONFIG_HOME": directory.appendingPathComponent("config").path],
                                    logFile: directory.appendingPathComponent("serve-\(UUID().uuidString).log"))
        try #require(try await serve.waitForLog("listening on") != nil, "wabox serve did not start:\n\(serve.log)")
        let tmux = try scope.tmux(socket: "wabox-scope-\(UUID().uuidString.prefix(8))")
        try tmux.newSession("pane", width: 80, height: 24, command: "sleep 600 & sleep 601")
        let (server, pane) = try #require(tmux.processes.count == 2 ? (tmux.processes[0], tmux.processes[1]) : nil)
        // The pane's shell and its two sleeps.
        #expect(try await waitUntil { members(ofGroup: pane).count == 3 }, "the pane's two sleeps did not start")
        return ([serve.pid, server] + members(ofGroup: pane), tmux.socket)
    }

    @Test func aFailureInsideTheScopeStillStopsEverythingItStarted() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        nonisolated(unsafe) var started: [pid_t] = []
        nonisolated(unsafe) var socket = ""
        await withKnownIssue("fails inside the scope on purpose") {
            try await withProcesses { scope in
                (started, socket) = try await Self.startEverything(in: scope, directory: directory)
                #expect(started.allSatisfy(processIsAlive))
                try #require(Bool(false), "a #require that fails while everything runs")
            }
        }
        #expect(started.count == 5, "serve, the tmux server, the pane's shell and its two sleeps: \(started)")
        for pid in started {
            #expect(!processIsAlive(pid), "process \(pid) outlived the scope that started it")
        }
        let listed = try runCommand("/usr/bin/tmux", ["-L", socket, "list-sessions"])
        #expect(listed.status != 0, "the tmux server on \(socket) still answers: \(listed.stdout)")
    }

    /// Runs the test below in a test process of its own, kills that process with SIGKILL
    /// (no handler, no `defer` runs), and finds what it had started gone.
    @Test func processesDieWithTheTestProcessEvenByKill9() async throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let testRunner = try #require(CommandLine.arguments.first)
        let pidFile = directory.appendingPathComponent("held.pids")
        try await withProcesses { scope in
            let child = try scope.start(testRunner, ["--testing-library", "swift-testing",
                                                     "--filter", "holdsProcessesUntilKilled"],
                                        environment: ["WABOX_SCOPE_HOLDER": pidFile.path],
                                        logFile: directory.appendingPathComponent("child.log"))
            let written = try await waitUntil(timeout: 60) { FileManager.default.fileExists(atPath: pidFile.path) || !child.isRunning }
            try #require(written && child.isRunning, "the child test process did not start its processes:\n\(child.log)")
            let held = try String(contentsOf: pidFile, encoding: .utf8).split(separator: " ").compactMap { pid_t($0) }
            try #require(held.count == 5 && held.allSatisfy(processIsAlive), "held: \(held)\n\(child.log)")

            kill(child.pid, SIGKILL)
            #expect(await child.stop() == 128 + SIGKILL)
            let gone = try await waitUntil(timeout: 15) { held.allSatisfy { !processIsAlive($0) } }
            #expect(gone, "still running after their test process died: \(held.filter(processIsAlive))")
        }
    }

    /// Only as the child of the test above: starts everything, says which processes, and
    /// waits to be killed.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["WABOX_SCOPE_HOLDER"] != nil))
    func holdsProcessesUntilKilled() async throws {
        let pidFile = try #require(ProcessInfo.processInfo.environment["WABOX_SCOPE_HOLDER"])
        // This process is killed before any `defer`: work in the parent test's folder.
        try? FileManager.default.removeItem(at: directory)
        let folder = URL(fileURLWithPath: pidFile).deletingLastPathComponent()
        try await withProcesses { scope in
            let (pids, _) = try await Self.startEverything(in: scope, directory: folder)
            let temporary = pidFile + ".partial"
            try pids.map(String.init).joined(separator: " ").write(toFile: temporary, atomically: false, encoding: .utf8)
            try FileManager.default.moveItem(atPath: temporary, toPath: pidFile)
            _ = try await waitUntil(timeout: 90) { false }
        }
    }
}

/// The README's two commands are enough: what the tests run is installed by
/// scripts/install-and-run (and CI), and a missing tool names its package.
@Suite struct TestToolsTests {
    @Test func installAndRunInstallsEveryToolTheTestsRun() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let list = try String(contentsOf: root.appendingPathComponent("scripts/debian-packages"), encoding: .utf8)
        let packages = Set(list.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") })
        for (tool, package) in testTools {
            #expect(packages.contains(package), "\(tool) comes from \(package), which scripts/debian-packages does not name")
        }
        for script in ["scripts/install-and-run", ".ci/run"] {
            let text = try String(contentsOf: root.appendingPathComponent(script), encoding: .utf8)
            #expect(text.contains("scripts/debian-packages"), "\(script) does not install the shared list")
        }
    }

    @Test func aMissingToolNamesItsDebianPackage() throws {
        let missing = "/nonexistent-\(UUID().uuidString)/sshd"
        let error = #expect(throws: Fixtures.FixtureError.self) { try requireTool(missing, package: "openssh-server") }
        #expect(error?.description.contains("apt-get install openssh-server") == true, "\(String(describing: error))")
        let unknown = #expect(throws: Fixtures.FixtureError.self) { try runCommand(missing, []) }
        #expect(unknown?.description.contains(missing) == true)
    }
}
