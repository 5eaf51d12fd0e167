import AsyncHTTPClient
import Foundation
import InboxCore
import NIOCore
import NIOPosix

/// Why an HTTP exchange got no answer: the one classifier of network failures, used by the
/// outbox sender, `wabox doctor` and `wabox simulate` alike.
///
/// What matters to a caller is whether the request can have reached the server (a send
/// that cannot have arrived is safe to retry) and what to tell the operator.
public struct TransportFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The host name did not resolve.
        case unresolvable(host: String, detail: String)
        /// Nothing listens there: the connection was refused.
        case refused(host: String?, port: Int?)
        /// The connection could not be made (network or host unreachable, …).
        case unreachable(host: String?, port: Int?, detail: String)
        /// No connection within the connect timeout.
        case connectTimeout
        /// Connected, but no answer came in time.
        case noAnswer
        /// The server closed the connection without answering.
        case closedWithoutAnswer
        /// The address is not an http(s) URL.
        case invalidURL
        /// The TLS handshake did not complete, so no request was sent.
        case tls(String)
        /// Anything else.
        case other(String)
    }

    public var kind: Kind

    public init(kind: Kind) { self.kind = kind }

    /// False when no connection was made, so a retry cannot deliver the request twice.
    public var requestMayHaveArrived: Bool {
        switch kind {
        case .unresolvable, .refused, .unreachable, .connectTimeout, .invalidURL, .tls: false
        case .noAnswer, .closedWithoutAnswer, .other: true
        }
    }

    /// Whether nothing listens at the address (as opposed to a slow or broken peer).
    public var isRefused: Bool {
        if case .refused = kind { return true }
        return false
    }

    /// Plain words, fit for one terminal line.
    public var description: String {
        switch kind {
        case .unresolvable(let host, let detail): "cannot resolve \(host): \(detail)"
        case .refused(let host?, let port?): "connection refused by \(host):\(port)"
        case .refused: "connection refused"
        case .unreachable(let host?, let port?, let detail): "cannot connect to \(host):\(port): \(detail)"
        case .unreachable(_, _, let detail): "cannot connect: \(detail)"
        case .connectTimeout: "no connection within the connect timeout"
        case .noAnswer: "no answer in time"
        case .closedWithoutAnswer: "the server closed the connection without answering"
        case .invalidURL: "not an http:// or https:// URL"
        case .tls(let detail): "the TLS handshake failed: \(detail)"
        case .other(let detail): detail
        }
    }

    /// Classifies what AsyncHTTPClient or NIO threw.
    public static func classify(_ error: any Error) -> TransportFailure {
        if let failure = error as? TransportFailure { return failure }
        if let error = error as? NIOConnectionError {
            if let dns = error.dnsAError ?? error.dnsAAAAError {
                return .init(kind: .unresolvable(host: error.host, detail: TerminalText.sanitize("\(dns)")))
            }
            let refused = error.connectionErrors.contains { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }
            if refused || error.connectionErrors.isEmpty {
                return .init(kind: .refused(host: error.host, port: error.port))
            }
            let detail = error.connectionErrors.first.map { TerminalText.sanitize("\($0.error)") } ?? "\(error)"
            return .init(kind: .unreachable(host: error.host, port: error.port, detail: detail))
        }
        if let error = error as? IOError {
            switch error.errnoCode {
            case ECONNREFUSED: return .init(kind: .refused(host: nil, port: nil))
            case ENETUNREACH, EHOSTUNREACH:
                return .init(kind: .unreachable(host: nil, port: nil, detail: String(cString: strerror(error.errnoCode))))
            default: break
            }
        }
        if let error = error as? ChannelError, case .connectTimeout = error {
            return .init(kind: .connectTimeout)
        }
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout, .getConnectionFromPoolTimeout, .socksHandshakeTimeout, .httpProxyHandshakeTimeout:
                return .init(kind: .connectTimeout)
            case .tlsHandshakeTimeout:
                return .init(kind: .tls("no handshake within the timeout"))
            case .invalidURL, .emptyHost, .emptyScheme:
                return .init(kind: .invalidURL)
            case .deadlineExceeded, .readTimeout:
                return .init(kind: .noAnswer)
            case .remoteConnectionClosed:
                return .init(kind: .closedWithoutAnswer)
            default:
                return .init(kind: .other(error.description))
            }
        }
        // Anything else may have come after the request was written (a TLS error mid-answer
        // among them): it counts as possibly delivered, so a send is never repeated on it.
        return .init(kind: .other(TerminalText.sanitize(String(describing: error))))
    }
}

/// An HTTP client for one-off calls by the operator's tools (`doctor`, `simulate`):
/// AsyncHTTPClient without redirects and without connection retries, so that a closed
/// port is reported at once rather than after the request deadline.
public enum DirectHTTP {
    public static func makeClient(connections: Int = 8, connectTimeout: TimeAmount = .seconds(5)) -> HTTPClient {
        var pool = HTTPClient.Configuration.ConnectionPool(idleTimeout: .seconds(30),
                                                          concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        pool.retryConnectionEstablishment = false
        let configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: connectTimeout, read: .seconds(30)),
            connectionPool: pool)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// A body fit for one terminal line: sanitised, trimmed, at most 300 characters.
    public static func printable(_ data: Data) -> String {
        let text = TerminalText.sanitize(String(decoding: data.prefix(4096), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines))
        return text.count > 300 ? String(text.prefix(300)) + "…" : text
    }
}

/// Runs blocking work (reading, hashing or writing a large file) on a thread of
/// Dispatch's, never on one of the cooperative pool's two threads that the listener needs.
func offThePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global(qos: .utility).async { continuation.resume(returning: work()) }
    }
}
