import Foundation
import InboxCore
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

// Why a start on PostgreSQL failed, in words that say what to do. The client's pool
// retries a connection that fails for as long as a query waits, so a wrong password or a
// server that is down would look like a hang: `wabox serve` first opens one connection of
// its own, with a deadline, and turns what went wrong into one of these.

/// What stopped a connection to the database. Its description never holds the password.
public struct PostgresConnectionProblem: Error, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The server refused the user or the password (28P01, 28000).
        case authentication
        /// The server asked for a password and the URL gives none.
        case passwordMissing
        /// No database of that name on the server (3D000).
        case unknownDatabase
        /// Nothing accepts connections at the host and port.
        case refused
        /// The host name does not resolve.
        case unknownHost
        /// The server does not offer TLS, which the sslmode asks for.
        case tlsRefused
        /// The TLS handshake failed (the certificate, the protocol).
        case tlsFailed
        /// No answer within the deadline.
        case timeout
        /// The server is starting, shutting down or full (57P03, 53300).
        case unavailable
        case other
    }

    public var kind: Kind
    public var description: String

    public init(kind: Kind, description: String) {
        self.kind = kind
        self.description = description
    }
}

extension PostgresStore {
    /// Opens one connection to `location` (authentication and the database included) and
    /// closes it; throws `PostgresConnectionProblem` when that fails or takes longer than
    /// `timeout`.
    public static func probe(_ location: PostgresLocation, timeout: Duration = .seconds(10),
                             logger: Logger) async throws(PostgresConnectionProblem) {
        let configuration: PostgresConnection.Configuration
        do {
            configuration = try connectionConfiguration(location, connectTimeout: timeout)
        } catch {
            throw PostgresConnectionProblem(kind: .tlsFailed, description: """
                cannot set up TLS for \(location.redacted): \(error); try another sslmode in the URL
                """)
        }
        do {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
                    try? await connection.close()
                    return true
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return false
                }
                defer { group.cancelAll() }
                if try await group.next() != true {
                    throw PostgresConnectionProblem(kind: .timeout, description: """
                        PostgreSQL at \(location.host):\(location.port) did not answer within \(timeout) \
                        (\(location.redacted)): check that the host and port are right and that no firewall drops the connection
                        """)
                }
            }
        } catch let problem as PostgresConnectionProblem {
            throw problem
        } catch {
            throw explain(error, location: location, timeout: timeout)
        }
    }

    /// A single connection's settings (the probe's, a screen's change listener's), the
    /// same TLS as the pool's.
    public static func connectionConfiguration(_ location: PostgresLocation, connectTimeout: Duration = .seconds(10))
        throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS = try tlsSettings(location).map {
            .require(try NIOSSLContext(configuration: $0))
        } ?? .disable
        var configuration = PostgresConnection.Configuration(host: location.host, port: location.port,
                                                             username: location.user, password: location.password,
                                                             database: location.database, tls: tls)
        let (seconds, attoseconds) = connectTimeout.components
        configuration.options.connectTimeout = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        return configuration
    }

    /// The problem `error` (from connecting to `location`) stands for.
    static func explain(_ error: any Error, location: PostgresLocation, timeout: Duration) -> PostgresConnectionProblem {
        let server = "PostgreSQL at \(location.host):\(location.port)"
        let urlPlaces = "--db, WABOX_DB or db in config.toml"
        guard let psql = error as? PSQLError else {
            return PostgresConnectionProblem(kind: .other, description: "cannot connect to \(location.redacted): \(error)")
        }
        let message = psql.serverInfo?[.message].map { ": \($0)" } ?? ""
        if psql.code == .server {
            switch psql.serverInfo?[.sqlState] ?? "" {
            case "28P01", "28000":
                return PostgresConnectionProblem(kind: .authentication, description: """
                    \(server) refused user \(location.user) or its password\(message). Check the user and the password \
                    in the URL (\(urlPlaces)); a password with @, : or / in it is written %40, %3A, %2F
                    """)
            case "3D000":
                return PostgresConnectionProblem(kind: .unknownDatabase, description: """
                    \(server) has no database named \(location.database): create it (createdb -h \(location.host) \
                    -p \(location.port) -U \(location.user) \(location.database)) or fix the name in the URL (\(urlPlaces))
                    """)
            case "57P03", "53300":
                return PostgresConnectionProblem(kind: .unavailable, description: """
                    \(server) does not take connections now\(message): start wabox serve again once it does
                    """)
            case let state:
                return PostgresConnectionProblem(kind: .other, description: """
                    \(server) refused the connection to \(location.redacted)\(message) (SQLSTATE \(state))
                    """)
            }
        }
        if psql.code == .sslUnsupported {
            return PostgresConnectionProblem(kind: .tlsRefused, description: """
                \(server) does not offer TLS, which sslmode=\(location.tls.rawValue) asks for: turn ssl on in the \
                server's postgresql.conf, or add ?sslmode=disable to the URL for a server on this machine or a private network
                """)
        }
        if psql.code == .authMechanismRequiresPassword {
            return PostgresConnectionProblem(kind: .passwordMissing, description: """
                \(server) asks user \(location.user) for a password and the URL gives none: write \
                postgres://\(location.user):PASSWORD@\(location.host):\(location.port)/\(location.database)
                """)
        }
        let underlying = psql.underlying
        if isRefusal(underlying) {
            return PostgresConnectionProblem(kind: .refused, description: """
                nothing accepts connections at \(location.host):\(location.port) (\(location.redacted)): is PostgreSQL \
                running there, and listening on that address and port (listen_addresses, port in postgresql.conf)?
                """)
        }
        if let connection = underlying as? NIOConnectionError, connection.dnsAError != nil || connection.dnsAAAAError != nil,
           connection.connectionErrors.isEmpty {
            return PostgresConnectionProblem(kind: .unknownHost, description: """
                the host \(location.host) in the PostgreSQL URL does not resolve: fix the host (\(urlPlaces))
                """)
        }
        if let channel = underlying as? ChannelError, case .connectTimeout(_) = channel {
            return PostgresConnectionProblem(kind: .timeout, description: """
                \(server) did not answer within \(timeout) (\(location.redacted)): check that the host and port are \
                right and that no firewall drops the connection
                """)
        }
        if underlying is NIOSSLError || underlying is BoringSSLError {
            return PostgresConnectionProblem(kind: .tlsFailed, description: """
                the TLS handshake with \(server) failed (\(underlying.map { "\($0)" } ?? "")): with sslmode=verify-full \
                the server's certificate must be valid for \(location.host); sslmode=require encrypts without checking it
                """)
        }
        return PostgresConnectionProblem(kind: .other, description: """
            cannot connect to \(location.redacted): \(psql.code)\(underlying.map { " (\($0))" } ?? "")\(message)
            """)
    }

    private static func isRefusal(_ error: (any Error)?) -> Bool {
        if let io = error as? IOError { return io.errnoCode == ECONNREFUSED }
        if let connection = error as? NIOConnectionError {
            return !connection.connectionErrors.isEmpty && connection.connectionErrors.allSatisfy { isRefusal($0.error) }
        }
        return false
    }
}
