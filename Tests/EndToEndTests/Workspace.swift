import Foundation
import InboxCore
import InboxTesting
import Testing

/// A test's own folder, database path and environment, and `wabox serve` started in it.
protocol ServeWorkspace {
    var directory: URL { get }
    var databasePath: String { get }
    var environment: [String: String] { get }
}

extension ServeWorkspace {
    /// A fresh folder under the temporary directory, with the app secret and verify token
    /// of the fixtures and a config folder of its own.
    static func makeWorkspace(_ prefix: String) throws -> (URL, String, [String: String]) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let environment = [
            "WABOX_APP_SECRET": Fixtures.appSecret,
            "WABOX_VERIFY_TOKEN": Fixtures.verifyToken,
            "XDG_CONFIG_HOME": directory.appendingPathComponent("config").path,
        ]
        return (directory, directory.appendingPathComponent("data/inbox.sqlite").path, environment)
    }

    /// Starts `wabox serve` in `scope` on a free loopback port and returns it with the port.
    func startServe(in scope: ProcessScope, _ extra: [String] = [], database: String? = nil,
                    environment: [String: String]? = nil) async throws -> (BackgroundProcess, Int) {
        let serve = try scope.start(try waboxBinary(), ["serve", "--db", database ?? databasePath, "--listen", "127.0.0.1:0"] + extra,
                                    environment: environment ?? self.environment,
                                    logFile: directory.appendingPathComponent("serve-\(UUID().uuidString).log"))
        guard let port = try await serve.waitForLog(#"listening on http://127\.0\.0\.1:(\d+)/webhook"#).flatMap(Int.init) else {
            await serve.stop()
            throw Fixtures.FixtureError(description: "wabox serve did not start:\n\(serve.log)")
        }
        return (serve, port)
    }
}

/// POSTs a signed body with curl, as Meta would (no `Expect: 100-continue`), writing it to
/// a file in `folder` first. Returns the status code, then curl's complaint if it has one.
func postSigned(_ body: Data, port: Int, via folder: URL) throws -> String {
    let result = try runCommand("/usr/bin/curl", try signedPost(body, port: port, via: folder, maxTime: 20))
    return result.stderr.isEmpty ? result.stdout : result.stdout + " " + result.stderr
}

/// curl's arguments for POSTing `body` signed, as Meta would, to the listener on `port`
/// (the body written to a file in `folder`); prints the status code.
func signedPost(_ body: Data, port: Int, via folder: URL, maxTime: Int) throws -> [String] {
    let file = folder.appendingPathComponent("body-\(UUID().uuidString).json")
    try body.write(to: file)
    let signature = WebhookSignature(appSecret: Fixtures.appSecret).header(for: body)
    return ["-s", "-S", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "\(maxTime)", "-H", "Expect:", "-X", "POST",
            "http://127.0.0.1:\(port)/webhook", "-H", "X-Hub-Signature-256: \(signature)", "--data-binary", "@\(file.path)"]
}

/// One pane of a test's private tmux server (`tmux -L socket`): what the real binary shows,
/// read with capture-pane, and keys sent to it.
struct TmuxPane {
    let socket: String
    var target = "inbox"

    /// The pane as text; with `colours`, with its SGR sequences.
    func screen(colours: Bool = false) throws -> String {
        try runCommand("/usr/bin/tmux", ["-L", socket, "capture-pane"] + (colours ? ["-e"] : []) + ["-p", "-t", target]).stdout
    }

    /// Keys by tmux name (`Enter`, `Escape`, `C-u`, …).
    func press(_ keys: [String]) throws {
        _ = try runCommand("/usr/bin/tmux", ["-L", socket, "send-keys", "-t", target] + keys)
    }

    /// Text typed literally.
    func type(_ text: String) throws {
        _ = try runCommand("/usr/bin/tmux", ["-L", socket, "send-keys", "-t", target, "-l", text])
    }

    /// Waits until the pane satisfies `condition` and returns it; a wait that gives up fails
    /// the test with the last screen it saw.
    @discardableResult
    func waitForScreen(_ what: String, timeout: Double, colours: Bool = false,
                       _ condition: (String) -> Bool) async throws -> String {
        var last = ""
        let found = try await waitUntil(timeout: timeout) {
            last = try screen(colours: colours)
            return condition(last)
        }
        try #require(found, "waited for \(what) on tmux pane \(target); the screen was:\n\(last)")
        return last
    }
}
