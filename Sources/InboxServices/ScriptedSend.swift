import CloudAPI
import Foundation
import InboxCore
import InboxStore
import Logging

/// What `wabox send` does: one message written to the outbox and sent at once, for a script.
public enum ScriptedSend {
    /// One message to send.
    public struct Request: Sendable {
        /// A wa_id, user id or known username.
        public var to: String
        public var text: String?
        /// A file to send instead of text, with `caption` under it.
        public var file: String?
        public var caption: String?
        public var replyTo: MessageID?

        public init(to: String, text: String?, file: String?, caption: String?, replyTo: MessageID?) {
            self.to = to
            self.text = text
            self.file = file
            self.caption = caption
            self.replyTo = replyTo
        }
    }

    public typealias Failure = CommandOutput.Failure

    /// Writes the message to the outbox of the database at `databasePath`, sends it through
    /// the Cloud API, and returns its wamid once the API accepted it; a refusal, a closed
    /// window or an uncertain fate is thrown in words.
    public static func send(_ request: Request, databasePath: String, cloud: GraphCloudClient.Configuration,
                            phoneNumberID: PhoneNumberID?, mediaDirectory: String) async throws(Failure) -> MessageID {
        do {
            return try await sendOrThrow(request, databasePath: databasePath, cloud: cloud, phoneNumberID: phoneNumberID,
                                         mediaDirectory: mediaDirectory)
        } catch let failure as Failure {
            throw failure
        } catch let error as OutboxError {
            throw Failure(description: error.description)
        } catch let refusal as OutgoingFile.Refusal {
            throw Failure(description: "not sent: \(refusal)")
        } catch {
            throw Failure(description: String(describing: error))
        }
    }

    private static func sendOrThrow(_ request: Request, databasePath: String, cloud: GraphCloudClient.Configuration,
                                    phoneNumberID: PhoneNumberID?, mediaDirectory: String) async throws -> MessageID {
        let database = try InboxDatabase(path: databasePath)
        let now = Int64(Date().timeIntervalSince1970)
        let localID = "send-" + UUID().uuidString.lowercased()
        let conversation = try await database.conversationForSending(to: request.to, on: phoneNumberID, at: now)
        if let file = request.file {
            try await OutgoingFile.enqueue(path: file, mediaDirectory: mediaDirectory, in: conversation, caption: request.caption,
                                           replyTo: request.replyTo, localID: localID, at: now, database: database)
        } else if let text = request.text {
            try await database.enqueueOutbound(in: conversation, content: .text(body: text), replyTo: request.replyTo,
                                               localID: localID, at: now)
        }
        let quiet = Logger(label: "wabox.send", factory: { _ in SwiftLogNoOpLogHandler() })
        let client = GraphCloudClient(configuration: cloud, logger: quiet)
        // A script waits seconds, not minutes: a few quick retries, then the outbox keeps it.
        let sender = OutboxSender(database: database, client: client,
                                  policy: .init(baseDelay: 1, maxDelay: 8, maxAttempts: 4), logger: quiet)
        switch try await sender.deliver(localID: localID, timeout: 45_000) {
        case .accepted(_, let wamid):
            return wamid
        case .failed(_, let reason, _):
            throw Failure(description: "not sent: \(reason)")
        case .windowClosed(_, let reason):
            throw Failure(description: "not sent: \(reason). Only an approved template can reach this customer until they write again.")
        case .halted(_, let reason):
            throw Failure(description: "not sent: sending halted: \(reason)")
        case .uncertain(_, let reason):
            throw Failure(description: "\(reason). It is marked uncertain in the inbox and will not be sent again on its own.")
        case .retryScheduled(_, _, let reason):
            throw Failure(description: "not sent yet: \(reason). It stays in the outbox; a running `wabox serve` with an access token sends it later.")
        }
    }
}
