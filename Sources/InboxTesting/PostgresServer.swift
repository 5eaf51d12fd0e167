import Foundation
import InboxCore

/// A PostgreSQL server of the test's own: `initdb` into a temporary folder, `postgres` on a
/// free loopback port with its socket in that folder, password (SCRAM) authentication on
/// loopback and trust on the socket only, which only the folder's owner can reach. Started
/// and stopped by `withPostgresServer`; Debian's own cluster and its service are neither
/// needed nor touched.
///
/// The server runs as an unprivileged user: PostgreSQL refuses to run as root, and tests
/// run as root in CI. As root, every PostgreSQL program runs as `nobody` (through
/// `setpriv`, which execs, so the process the scope holds is the server itself) and the
/// folder belongs to `nobody`; otherwise they run as the current user.
///
/// `postgres` runs in the foreground, not through `pg_ctl start`: pg_ctl starts the server
/// in a session of its own, out of reach of the scope's process group and of the watchdog
/// that stops it should the test process die.
public final class PostgresServer: Sendable {
    /// The superuser `initdb` made, and the role the tests connect as.
    public let user = "wabox_test"
    public let password: String
    public let port: Int
    /// The temporary folder: the cluster in `data/`, the socket beside it.
    public let directory: URL
    private let binDirectory: String
    private let process: BackgroundProcess

    /// The newest PostgreSQL of Debian's layout (`/usr/lib/postgresql/N/bin`), if any.
    public static func installedBinDirectory() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        return versions.reversed().map { "\(root)/\($0)/bin" }
            .first { FileManager.default.isExecutableFile(atPath: "\($0)/initdb") }
    }

    /// The PostgreSQL programs the fixture runs, for `testTools`: from Debian's `postgresql`.
    static var tools: [String: String] {
        let bin = installedBinDirectory() ?? "/usr/lib/postgresql/15/bin"
        return Dictionary(uniqueKeysWithValues: ["initdb", "postgres", "pg_isready", "createdb", "dropdb"]
            .map { ("\(bin)/\($0)", "postgresql") })
    }

    /// `postgres://wabox_test:…@127.0.0.1:PORT/DATABASE?sslmode=disable`.
    public func url(database: String) -> String {
        "postgres://\(user):\(password)@127.0.0.1:\(port)/\(database)?sslmode=disable"
    }

    /// The server's process (the postmaster).
    public var processID: pid_t { process.pid }

    /// The PostgreSQL location of `database` on this server, for a store.
    public func location(database: String) -> PostgresLocation {
        PostgresLocation(user: user, password: password, host: "127.0.0.1", port: port, database: database, tls: .disable)
    }

    /// What the server logged so far.
    public var log: String { process.log }

    /// Makes an empty database and returns its name: a fresh one (`test_…`) unless named.
    @discardableResult
    public func createDatabase(named name: String? = nil) async throws -> String {
        let name = name ?? "test_" + UUID().uuidString.prefix(8).lowercased()
        let result = try await run("createdb", ["-h", directory.path, "-p", String(port), "-U", user, name])
        guard result.status == 0 else {
            throw Fixtures.FixtureError(description: "createdb \(name) failed (\(result.status)): \(result.stderr)")
        }
        return name
    }

    // MARK: - Starting and stopping

    fileprivate static func start(in scope: ProcessScope, directory: URL) async throws -> PostgresServer {
        guard let bin = installedBinDirectory() else {
            _ = try requireTool("/usr/lib/postgresql/15/bin/initdb", package: "postgresql")
            throw Fixtures.FixtureError(description: "no PostgreSQL under /usr/lib/postgresql: apt-get install postgresql")
        }
        for tool in tools.keys { _ = try requireTool(tool, package: "postgresql") }
        let password = UUID().uuidString
        let passwordFile = directory.appendingPathComponent("password")
        try password.write(to: passwordFile, atomically: false, encoding: .utf8)
        let owner = try unprivilegedOwner()
        if let owner {
            for path in [directory.path, passwordFile.path] where chown(path, owner.uid, owner.gid) != 0 {
                throw Fixtures.FixtureError(description: "cannot give \(path) to nobody: \(String(cString: strerror(errno)))")
            }
        }
        let data = directory.appendingPathComponent("data").path
        let (initdbPath, initdbPrefix) = command(bin, "initdb", owner: owner)
        let initdb = try await blockingWork {
            try runCommand(initdbPath, initdbPrefix + [
                "-D", data, "-U", "wabox_test", "--pwfile", passwordFile.path, "--auth-local=trust",
                "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync",
            ])
        }
        guard initdb.status == 0 else {
            throw Fixtures.FixtureError(description: "initdb failed (\(initdb.status)): \(initdb.stderr)\(initdb.stdout)")
        }
        // Nothing but loopback: no other address is listened on, and pg_hba.conf (initdb's)
        // accepts TCP from 127.0.0.1 and ::1 only.
        var lastError = ""
        for _ in 0..<3 {
            let port = try closedPort()
            let (executable, prefix) = command(bin, "postgres", owner: owner)
            let process = try scope.start(executable, prefix + [
                "-D", data, "-p", String(port), "-k", directory.path, "-c", "listen_addresses=127.0.0.1",
                "-c", "max_connections=100",
            ], logFile: directory.appendingPathComponent("server.log"))
            let server = PostgresServer(password: password, port: port, directory: directory, binDirectory: bin,
                                        process: process)
            if try await server.waitUntilReady(timeout: 60) { return server }
            lastError = process.log
            await process.stop(signal: SIGINT, timeout: 15)
            // A port taken between the probe and the bind: try another.
            guard lastError.contains("could not bind") || lastError.contains("in use") else { break }
        }
        throw Fixtures.FixtureError(description: "PostgreSQL did not become ready within 60 s; it logged:\n\(lastError)")
    }

    private init(password: String, port: Int, directory: URL, binDirectory: String, process: BackgroundProcess) {
        self.password = password
        self.port = port
        self.directory = directory
        self.binDirectory = binDirectory
        self.process = process
    }

    /// Waits for the server's own word that it is ready (its log, read without starting a
    /// process: each child's exit is a SIGCHLD that other tests' blocking reads would see),
    /// then confirms with one `pg_isready`; false when the server ended or the deadline passed.
    private func waitUntilReady(timeout: Double) async throws -> Bool {
        guard try await process.waitForLog("database system is ready to accept connections", timeout: timeout) != nil else {
            return false
        }
        let ready = try await run("pg_isready", ["-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", "postgres",
                                                 "-t", "10"])
        return ready.status == 0
    }

    /// Fast shutdown (SIGINT: connected clients are disconnected), waiting for the server to end.
    fileprivate func stop() async {
        await process.stop(signal: SIGINT, timeout: 30)
    }

    /// Runs a client program (as the current user: they reach the server by TCP or socket).
    private func run(_ tool: String, _ arguments: [String]) async throws -> CommandResult {
        let path = "\(binDirectory)/\(tool)"
        let environment = ["PGPASSWORD": password, "PGCONNECT_TIMEOUT": "5"]
        return try await blockingWork { try runCommand(path, arguments, environment: environment) }
    }

    private struct Owner { var uid: uid_t; var gid: gid_t }

    /// `nobody` when running as root, else nil (the current user runs the server).
    private static func unprivilegedOwner() throws -> Owner? {
        guard getuid() == 0 else { return nil }
        guard let entry = getpwnam("nobody") else {
            throw Fixtures.FixtureError(description: "running as root and there is no user nobody to run PostgreSQL as")
        }
        return Owner(uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    /// The executable and the arguments before the program's own: through `setpriv` as `owner`.
    private static func command(_ bin: String, _ tool: String, owner: Owner?) -> (String, [String]) {
        guard let owner else { return ("\(bin)/\(tool)", []) }
        return ("/usr/bin/setpriv", ["--reuid=\(owner.uid)", "--regid=\(owner.gid)", "--clear-groups", "\(bin)/\(tool)"])
    }
}

/// Starts a PostgreSQL server of its own for `body`, then stops it (fast shutdown) and
/// removes its folder, on every exit path; should the test process die, the scope's
/// watchdog kills the server's process group.
public func withPostgresServer<Result>(_ body: (PostgresServer) async throws -> Result) async throws -> Result {
    let directory = URL(fileURLWithPath: "/tmp").appendingPathComponent("wabox-pg-\(UUID().uuidString.prefix(8))")
    // Only its owner reaches the socket inside (trust there).
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false,
                                            attributes: [.posixPermissions: 0o700])
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await withProcesses { scope in
        let server = try await PostgresServer.start(in: scope, directory: directory)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }
}
