import Foundation
import InboxCore
import InboxStore

/// The webhook bodies in `Fixtures/`, written from the shapes in CLOUD_API.md.
public enum Fixtures {
    public static let appSecret = "test-app-secret-0123456789"
    public static let verifyToken = "test-verify-token"

    /// The raw bytes of `Fixtures/<name>.json`, exactly as stored.
    public static func data(_ name: String) throws -> Data {
        guard let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures") else {
            throw FixtureError(description: "no fixture named \(name).json")
        }
        return try Data(contentsOf: url)
    }

    public static func events(_ name: String, receivedAt: Int64 = 1_764_500_000) throws -> [InboxEvent] {
        try WebhookDecoder().decode(data(name), receivedAt: receivedAt)
    }

    /// The fixture as a signed incoming webhook, ready for `InboxDatabase.ingest`.
    public static func webhook(_ name: String, receivedAt: Int64 = 1_764_500_000) throws -> IncomingWebhook {
        try webhook(body: data(name), receivedAt: receivedAt)
    }

    public static func webhook(body: Data, receivedAt: Int64 = 1_764_500_000) -> IncomingWebhook {
        IncomingWebhook(receivedAt: receivedAt, body: body)
    }

    /// The folder holding the fixtures, for tests that hand files to the binary.
    public static var directory: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    }

    public struct FixtureError: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }
}

/// A database in a fresh temporary folder, opened through the production initialiser so
/// that migrations always run. The folder is removed on `remove()`.
public struct TemporaryDatabase: Sendable {
    public let directory: URL
    public let database: InboxDatabase

    /// The account a temporary database acts as unless told otherwise: the same on every
    /// machine and for every user, so that what a test sees does not depend on who runs it.
    public static let defaultAccount = "tester"

    public init(configuration: InboxDatabase.Configuration = .init()) throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("wabox-test-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = configuration
        configuration.account = configuration.account ?? Self.defaultAccount
        database = try InboxDatabase(path: directory.appendingPathComponent("inbox.sqlite").path, configuration: configuration)
    }

    public var path: String { database.path }

    /// The same file through connections of their own, acting as `account`: another
    /// agent's process.
    public func open(as account: String, displayName: String? = nil) throws -> InboxDatabase {
        try InboxDatabase(path: path, configuration: .init(displayName: displayName, account: account))
    }

    public func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Waits for `condition` to hold, checking every 20 ms, until `timeout` seconds pass.
public func waitUntil(timeout: Double = 10, _ condition: () throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return try condition()
}

/// A loopback port that nothing listens on (bound, then released).
public func closedPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
        }
    }
    guard bound else { throw Fixtures.FixtureError(description: "no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Runs long blocking work (thousands of synchronous writes) on a Dispatch thread, never on
/// one of the cooperative pool's threads: on 2 cores, blocking both stalls every listener
/// the suite runs in this process.
public func blockingWork<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global(qos: .userInitiated).async { continuation.resume(with: Result { try work() }) }
    }
}
