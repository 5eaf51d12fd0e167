import Foundation
import InboxCore
import InboxTUI
import Logging
import PostgresNIO
import PostgresStore

/// `wabox backup --db postgres://…`: a consistent copy of the shared inbox while every
/// listener keeps running, made by PostgreSQL's own `pg_dump` (one snapshot, whatever
/// commits meanwhile), in its custom format, checked with `pg_restore --list`, and renamed
/// into place only when whole. PostgreSQL's tools restore it (`pg_restore`), as they would
/// any database the team already backs up.
public enum PostgresBackup {
    public struct Report: Sendable {
        public var path: String
        public var bytes: Int64
        /// The messages the database held when the copy started.
        public var messages: Int
        public var seconds: Double
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Writes the copy of `location` to `path`, a new file (never overwritten).
    public static func run(_ location: PostgresLocation, to path: String,
                           environment: [String: String] = ProcessInfo.processInfo.environment) throws(Failure) -> Report {
        let started = ContinuousClock.now
        let target = URL(fileURLWithPath: (path as NSString).expandingTildeInPath).standardizedFileURL.path
        if FileManager.default.fileExists(atPath: target) {
            throw Failure(description: "\(target) exists: a backup never overwrites a file; give --to a new name")
        }
        let folder = (target as NSString).deletingLastPathComponent
        guard FileManager.default.isWritableFile(atPath: folder.isEmpty ? "." : folder) else {
            throw Failure(description: "cannot write into \(folder): give --to a path in a folder you may write")
        }
        let tools = try programs(["pg_dump", "pg_restore"], searchPath: environment["PATH"])
        let quiet = Logger(label: "wabox.backup", factory: { _ in SwiftLogNoOpLogHandler() })
        let counted = runBlocking { () async throws -> Int in
            try await PostgresStore.probe(location, logger: quiet)
            return try await PostgresStore.withStore(location, logger: quiet, maximumConnections: 1) { store in
                for try await count in try await store.client.query("SELECT count(*) FROM message", logger: quiet)
                    .decode(Int64.self) { return Int(count) }
                return 0
            }
        }
        let messages: Int
        switch counted {
        case .success(let count): messages = count
        case .failure(let error as PostgresConnectionProblem): throw Failure(description: error.description)
        case .failure(let error):
            throw Failure(description: "\(location.redacted) holds no wabox inbox to back up (\(error)): check --db")
        }

        let partial = target + ".part-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: partial) }
        // The password goes in the environment, never on a command line others may read.
        // The operator's certificate settings stay (PGSSLROOTCERT for verify-full); the
        // connection's own come from the URL.
        let certificates: Set<String> = ["PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY", "PGSSLCRL"]
        var libpq = environment.filter {
            !$0.key.hasPrefix("WABOX_") && (!$0.key.hasPrefix("PG") || certificates.contains($0.key))
        }
        libpq["PGHOST"] = location.host
        libpq["PGPORT"] = String(location.port)
        libpq["PGUSER"] = location.user
        libpq["PGDATABASE"] = location.database
        libpq["PGSSLMODE"] = location.tls.rawValue
        libpq["PGCONNECT_TIMEOUT"] = "10"
        if let password = location.password { libpq["PGPASSWORD"] = password }
        try run(tools[0], ["--format=custom", "--no-owner", "--no-privileges", "--file=\(partial)"], environment: libpq,
                what: "pg_dump")
        let listing = try run(tools[1], ["--list", partial], environment: libpq, what: "pg_restore --list")
        guard listing.contains("TABLE DATA public message ") && listing.contains("TABLE DATA public journal ") else {
            throw Failure(description: "the copy pg_dump wrote lacks wabox's tables (pg_restore --list): nothing was kept")
        }
        // Whole and checked: it takes its name, and a file made meanwhile is not replaced.
        guard link(partial, target) == 0 else {
            throw Failure(description: "cannot name the copy \(target): \(String(cString: strerror(errno)))")
        }
        let bytes = ((try? FileManager.default.attributesOfItem(atPath: target))?[.size] as? NSNumber)?.int64Value ?? 0
        let elapsed = ContinuousClock.now - started
        return Report(path: target, bytes: bytes, messages: messages,
                      seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }

    /// The PostgreSQL client programs, by name, from `PATH`.
    private static func programs(_ names: [String], searchPath: String?) throws(Failure) -> [String] {
        var found: [String] = []
        for name in names {
            guard let program = ProgramLookup.find(name, searchPath: searchPath) else {
                throw Failure(description: """
                    \(name) is not on PATH: a PostgreSQL backup is made by PostgreSQL's own tools; \
                    install them (apt-get install postgresql-client) and run the backup again
                    """)
            }
            found.append(program.path)
        }
        return found
    }

    /// Runs `program` to its end; its standard output, or its first complaint when it fails.
    @discardableResult
    private static func run(_ program: String, _ arguments: [String], environment: [String: String],
                            what: String) throws(Failure) -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-backup-\(UUID().uuidString)")
        let errors = output.appendingPathExtension("err")
        defer {
            try? FileManager.default.removeItem(at: output)
            try? FileManager.default.removeItem(at: errors)
        }
        let status: Int32
        do {
            let pid = try ProcessSpawn.start(program, arguments, environment: environment,
                                             standardOutput: .appending(toFile: output.path),
                                             standardError: .appending(toFile: errors.path))
            status = ProcessSpawn.terminationStatus(ProcessSpawn.waitForExit(pid))
        } catch {
            throw Failure(description: "could not run \(what): \(error)")
        }
        let said = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
        guard status == 0 else {
            let first = said.split(whereSeparator: \.isNewline).first.map(String.init) ?? "no message"
            throw Failure(description: "\(what) failed (exit status \(status)): \(first)")
        }
        return (try? String(contentsOf: output, encoding: .utf8)) ?? ""
    }
}
