import AsyncHTTPClient
import CloudAPI
import Foundation
import InboxCore
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a running wabox listener says about itself on `GET /healthz`.
public enum ListenerHealth: Sendable, Hashable {
    /// wabox answered: its status (`ok`, or why not) and how many webhooks wait.
    case wabox(status: String, queue: Int)
    /// Something else holds the port, or nothing answers HTTP there.
    case other(String)

    /// Asks the program at `url` (`http://HOST:PORT/healthz`).
    public static func probe(_ url: String, client: HTTPClient) async -> ListenerHealth {
        struct Answer: Decodable {
            let status: String
            let database: String
            let queue: Int
        }
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        do {
            let response = try await client.execute(request, timeout: .seconds(3))
            let body = try await response.body.collect(upTo: 64 * 1024)
            if let answer = try? JSONDecoder().decode(Answer.self, from: Data(body.readableBytesView)) {
                return .wabox(status: answer.status, queue: answer.queue)
            }
            return .other("it answers GET /healthz with HTTP \(response.status.code), not as wabox does")
        } catch {
            return .other("it does not answer HTTP: \(TransportFailure.classify(error))")
        }
    }
}

/// The HTTP calls of `wabox doctor`: one client without retries or redirects, so that a
/// closed port is reported at once.
public final class DiagnosticClient: Sendable {
    private let http: HTTPClient

    public init(connections: Int = 2) {
        http = DirectHTTP.makeClient(connections: connections)
    }

    /// What the program on the listen address says on `GET /healthz`.
    public func listenerHealth(at url: String) async -> ListenerHealth {
        await ListenerHealth.probe(url, client: http)
    }

    /// The Graph API's phone-number probe, with the token and address of `graph`.
    public func phoneNumber(_ id: PhoneNumberID, graph: GraphCloudClient.Configuration) async throws(CloudFailure)
        -> PhoneNumberInfo {
        let quiet = Logger(label: "wabox.doctor", factory: { _ in SwiftLogNoOpLogHandler() })
        return try await GraphCloudClient(configuration: graph, http: http, logger: quiet).phoneNumber(id)
    }

    public func shutdown() async {
        try? await http.shutdown()
    }
}

/// A wildcard listen address is reached on loopback.
public func connectableHost(_ host: String) -> String {
    switch host {
    case "0.0.0.0", "": "127.0.0.1"
    case "::", "[::]": "::1"
    default: host
    }
}

/// Tries to bind the listen address the way the listener would.
public enum PortProbe {
    public enum Outcome: Equatable, Sendable {
        case free
        case unresolvable(String)
        /// `errno` of `bind` or `listen`.
        case failed(Int32)
    }

    public static func bind(host: String, port: Int) -> Outcome {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var result: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &result)
        guard resolved == 0, let info = result else {
            return .unresolvable("cannot resolve \(host): \(String(cString: gai_strerror(resolved)))")
        }
        defer { freeaddrinfo(result) }
        let descriptor = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        guard descriptor >= 0 else { return .failed(errno) }
        defer { close(descriptor) }
        // The listener sets SO_REUSEADDR too, so a port in TIME_WAIT counts as free.
        var one: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if systemBind(descriptor, info.pointee.ai_addr, info.pointee.ai_addrlen) != 0 { return .failed(errno) }
        if systemListen(descriptor, 1) != 0 { return .failed(errno) }
        return .free
    }
}

#if canImport(Glibc)
private let systemBind = Glibc.bind
private let systemListen = Glibc.listen
#elseif canImport(Darwin)
private let systemBind = Darwin.bind
private let systemListen = Darwin.listen
#endif
