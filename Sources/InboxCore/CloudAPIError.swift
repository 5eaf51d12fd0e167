/// An error the Cloud API answered with:
/// `{"error":{"message","type","code","error_subcode","error_data":{"details"},"fbtrace_id"}}`.
///
/// What the inbox does about it depends on `code`, never on the HTTP status.
public struct CloudAPIError: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    public var code: Int
    public var subcode: Int?
    public var type: String?
    public var message: String?
    public var details: String?
    public var fbtraceID: String?
    /// The HTTP status it came with (0 when unknown).
    public var httpStatus: Int

    public init(code: Int, subcode: Int? = nil, type: String? = nil, message: String? = nil, details: String? = nil,
                fbtraceID: String? = nil, httpStatus: Int = 0) {
        self.code = code
        self.subcode = subcode
        self.type = type
        self.message = message
        self.details = details
        self.fbtraceID = fbtraceID
        self.httpStatus = httpStatus
    }

    public var meaning: CloudErrorMeaning { CloudErrorMeaning(code: code) }

    /// The plain-words meaning first, then what the API said.
    public var description: String {
        var text = meaning.explanation
        let said = [message, details].compactMap { $0 }.filter { !$0.isEmpty }
        if !said.isEmpty { text += " (Cloud API error \(code): \(said.joined(separator: " — ")))" } else { text += " (Cloud API error \(code))" }
        return text
    }

    /// As stored on a failed message: the plain words as title.
    public var detail: APIErrorDetail {
        APIErrorDetail(code: code, title: meaning.explanation, message: message, details: details)
    }

    /// The error body as the Cloud API writes it.
    public struct Body: Sendable, Hashable, Codable {
        public struct Inner: Sendable, Hashable, Codable {
            public struct ErrorData: Sendable, Hashable, Codable {
                public var details: String?
                public init(details: String?) { self.details = details }
            }

            public var message: String?
            public var type: String?
            public var code: Int
            public var errorSubcode: Int?
            public var errorData: ErrorData?
            public var fbtraceID: String?

            public init(message: String?, type: String?, code: Int, errorSubcode: Int? = nil, details: String? = nil,
                        fbtraceID: String?) {
                self.message = message
                self.type = type
                self.code = code
                self.errorSubcode = errorSubcode
                self.errorData = details.map(ErrorData.init)
                self.fbtraceID = fbtraceID
            }

            enum CodingKeys: String, CodingKey {
                case message, type, code
                case errorSubcode = "error_subcode"
                case errorData = "error_data"
                case fbtraceID = "fbtrace_id"
            }
        }

        public var error: Inner
        public init(error: Inner) { self.error = error }
    }

    public init(body: Body, httpStatus: Int) {
        self.init(code: body.error.code, subcode: body.error.errorSubcode, type: body.error.type,
                  message: body.error.message, details: body.error.errorData?.details,
                  fbtraceID: body.error.fbtraceID, httpStatus: httpStatus)
    }
}

/// What a Cloud API error code means, and what the inbox does about it.
public struct CloudErrorMeaning: Sendable, Hashable {
    /// What the sender does.
    public enum Action: Sendable, Hashable {
        /// Try again later with backoff, at most `attempts` times in all (nil: the policy's limit).
        case retry(attempts: Int?)
        /// The message failed; sending it again would fail the same way.
        case fail
        /// The 24-hour window is closed: the message failed, only a template can go out.
        case windowClosed
        /// Nothing can be sent until the operator fixes the token or the account.
        case haltSending
    }

    public var code: Int
    public var explanation: String
    public var action: Action

    public init(code: Int) {
        self.code = code
        switch code {
        case 131047:
            explanation = "window closed: more than 24 hours since the customer last wrote, so only an approved template can be sent"
            action = .windowClosed
        case 131026:
            explanation = "undeliverable: the number is not on WhatsApp, uses an old app, or has not accepted the terms"
            action = .fail
        case 130429:
            explanation = "throughput limit reached: too many messages per second from this number"
            action = .retry(attempts: nil)
        case 131056:
            explanation = "too many messages to this customer in a short time"
            action = .retry(attempts: nil)
        case 190:
            explanation = "the access token is expired or invalid: set a new WABOX_ACCESS_TOKEN (Meta Business settings → System users → Generate token)"
            action = .haltSending
        case 100:
            explanation = "invalid parameter: the Cloud API refused a value in the request"
            action = .fail
        case 131051:
            explanation = "unsupported message type"
            action = .fail
        case 131000:
            explanation = "unknown error at the Cloud API"
            action = .retry(attempts: 3)
        case 368:
            explanation = "the WhatsApp Business account is restricted for policy violations: see Meta Business Suite → Account quality"
            action = .haltSending
        case 131031:
            explanation = "the WhatsApp Business account is locked: see Meta Business Suite → Account quality"
            action = .haltSending
        default:
            explanation = "the Cloud API refused the message"
            action = .fail
        }
    }
}
