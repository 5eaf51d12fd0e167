import AsyncHTTPClient
import Foundation
import InboxCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The Cloud API over HTTP with AsyncHTTPClient: `{graphURL}/{graphVersion}/…` with the
/// Bearer token.
///
/// - Important: The token is sent only in the `Authorization` header; it never appears
///   in logs or error messages.
public struct GraphCloudClient: CloudMessaging {
    public struct Configuration: Sendable {
        /// `https://graph.facebook.com`, or a fake's address in tests.
        public var graphURL: String
        /// `v26.0`.
        public var graphVersion: String
        public var accessToken: String
        /// How long one call may take, connection included.
        public var timeout: TimeAmount

        public init(graphURL: String, graphVersion: String, accessToken: String, timeout: TimeAmount = .seconds(30)) {
            self.graphURL = graphURL.hasSuffix("/") ? String(graphURL.dropLast()) : graphURL
            self.graphVersion = graphVersion
            self.accessToken = accessToken
            self.timeout = timeout
        }
    }

    let configuration: Configuration
    let http: HTTPClient
    let logger: Logger

    /// - Parameter http: defaults to AsyncHTTPClient's shared client, which needs no shutdown.
    public init(configuration: Configuration, http: HTTPClient = .shared, logger: Logger) {
        self.configuration = configuration
        self.http = http
        self.logger = logger
    }

    var base: String { "\(configuration.graphURL)/\(configuration.graphVersion)" }

    // MARK: - Calls

    public func send(_ message: OutboundMessage, from phoneNumberID: PhoneNumberID) async throws(CloudFailure) -> SendReceipt {
        let body = try encode(message.body)
        let response: SendMessageResponse = try await call(.POST, "\(base)/\(phoneNumberID.rawValue)/messages", body: body)
        guard let id = response.messages.first?.id else {
            throw .invalidResponse("no message id in the answer")
        }
        return SendReceipt(wamid: MessageID(id), waID: response.contacts?.first?.waID.map(WaID.init),
                           messageStatus: response.messages.first?.messageStatus)
    }

    public func markRead(_ message: MessageID, from phoneNumberID: PhoneNumberID, typing: Bool) async throws(CloudFailure) {
        struct Success: Decodable { let success: Bool? }
        let body = try encode(MarkReadBody(messageID: message, typing: typing))
        let _: Success = try await call(.POST, "\(base)/\(phoneNumberID.rawValue)/messages", body: body)
    }

    public func approvedTemplates(of account: String) async throws(CloudFailure) -> [MessageTemplate] {
        struct Listing: Decodable {
            struct Paging: Decodable { let next: String? }
            let data: [MessageTemplate]
            let paging: Paging?
        }
        var templates: [MessageTemplate] = []
        var url: String? = "\(base)/\(account)/message_templates?status=APPROVED&limit=100"
        var pages = 0
        while let next = url, pages < 20 {
            let listing: Listing = try await call(.GET, next, body: nil)
            templates += listing.data.filter { $0.status.uppercased() == "APPROVED" }
            url = listing.paging?.next
            pages += 1
        }
        return templates
    }

    public func phoneNumber(_ id: PhoneNumberID) async throws(CloudFailure) -> PhoneNumberInfo {
        try await call(.GET, "\(base)/\(id.rawValue)?fields=verified_name,display_phone_number,quality_rating", body: nil)
    }

    public func uploadMedia(_ bytes: Data, mimeType: String, filename: String?,
                            from phoneNumberID: PhoneNumberID) async throws(CloudFailure) -> String {
        struct Uploaded: Decodable { let id: String }
        let form = MultipartForm(fields: [("messaging_product", "whatsapp"), ("type", mimeType)],
                                 file: (name: "file", filename: filename ?? "file", mimeType: mimeType, bytes: bytes))
        let uploaded: Uploaded = try await call(.POST, "\(base)/\(phoneNumberID.rawValue)/media", body: form.body,
                                                contentType: form.contentType, timeout: transferTimeout(bytes: bytes.count))
        return uploaded.id
    }

    /// A call's deadline, grown for a large file: the configured timeout, or the time the
    /// file takes at 256 KiB/s, whichever is longer.
    func transferTimeout(bytes: Int) -> TimeAmount {
        max(configuration.timeout, .seconds(Int64(10 + bytes / 262_144)))
    }

    public func mediaInfo(_ mediaID: String) async throws(CloudFailure) -> MediaInfo {
        try await call(.GET, "\(base)/\(mediaID)", body: nil)
    }

    public func downloadMedia(_ info: MediaInfo, maxBytes: Int) async throws(CloudFailure) -> Data {
        let (status, bytes) = try await exchange(.GET, info.url, body: nil, maxBytes: maxBytes,
                                                 timeout: transferTimeout(bytes: info.fileSize ?? maxBytes))
        guard (200..<300).contains(status) else { throw Self.failure(status: status, body: bytes) }
        return bytes
    }

    // MARK: - HTTP

    private func encode<T: Encodable>(_ value: T) throws(CloudFailure) -> Data {
        do {
            return try CloudJSON.encode(value)
        } catch {
            throw .invalidResponse("could not encode the request: \(error)")
        }
    }

    private func call<T: Decodable>(_ method: HTTPMethod, _ url: String, body: Data?,
                                    contentType: String = "application/json",
                                    timeout: TimeAmount? = nil) async throws(CloudFailure) -> T {
        let (status, bytes) = try await exchange(method, url, body: body, contentType: contentType, maxBytes: 4 * 1024 * 1024,
                                                 timeout: timeout)
        guard (200..<300).contains(status) else { throw Self.failure(status: status, body: bytes) }
        do {
            return try JSONDecoder().decode(T.self, from: bytes)
        } catch {
            throw .invalidResponse("HTTP \(status) with a body that is not the documented shape (\(error))")
        }
    }

    private func exchange(_ method: HTTPMethod, _ url: String, body: Data?, contentType: String = "application/json",
                          maxBytes: Int, timeout: TimeAmount? = nil) async throws(CloudFailure) -> (status: Int, body: Data) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(configuration.accessToken)")
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            let response = try await http.execute(request, timeout: timeout ?? configuration.timeout)
            let buffer = try await response.body.collect(upTo: maxBytes)
            logger.debug("cloud api answered", metadata: ["method": "\(method.rawValue)", "status": "\(response.status.code)"])
            return (Int(response.status.code), Data(buffer.readableBytesView))
        } catch is NIOTooManyBytesError {
            throw .tooLarge(limit: maxBytes)
        } catch {
            throw Self.networkFailure(error)
        }
    }

    /// A non-2xx answer: the documented error body when there is one.
    static func failure(status: Int, body: Data) -> CloudFailure {
        if let decoded = try? JSONDecoder().decode(CloudAPIError.Body.self, from: body) {
            return .api(CloudAPIError(body: decoded, httpStatus: status))
        }
        let snippet = String(decoding: body.prefix(200), as: UTF8.self)
            .replacingOccurrences(of: "\n", with: " ")
        return .http(status: status, snippet: snippet)
    }

    /// Whether the request can have reached the server decides whether a retry is safe.
    static func networkFailure(_ error: any Error) -> CloudFailure {
        if let error = error as? CloudFailure { return error }
        return .network(TransportFailure.classify(error))
    }
}

/// A `multipart/form-data` body: text fields, then one file.
struct MultipartForm {
    let boundary = "wabox-" + UUID().uuidString
    let body: Data

    var contentType: String { "multipart/form-data; boundary=\(boundary)" }

    init(fields: [(String, String)], file: (name: String, filename: String, mimeType: String, bytes: Data)) {
        var body = Data()
        func line(_ text: String) { body.append(Data((text + "\r\n").utf8)) }
        for (name, value) in fields {
            line("--\(boundary)")
            line("Content-Disposition: form-data; name=\"\(name)\"")
            line("")
            line(value)
        }
        // The name is the customer's to see, not a path: quotes and line breaks cannot pass.
        let safe = file.filename.filter { $0 != "\"" && $0 != "\r" && $0 != "\n" && $0 != "\\" }
        line("--\(boundary)")
        line("Content-Disposition: form-data; name=\"\(file.name)\"; filename=\"\(safe)\"")
        line("Content-Type: \(file.mimeType)")
        line("")
        body.append(file.bytes)
        line("")
        line("--\(boundary)--")
        self.body = body
    }
}
