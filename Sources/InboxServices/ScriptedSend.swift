import CloudAPI
import Foundation
import InboxCore
import InboxStore
import Logging
import PostgresStore

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

    /// The inbox the message is written to.
    public enum Store: Sendable {
        case sqlite(path: String)
        case postgres(PostgresLocation)
    }

    /// Writes the message to the outbox of `store`, sends it through the Cloud API, and
    /// returns its wamid once the API accepted it; a refusal, a closed window or an
    /// uncertain fate is thrown in words.
    public static func send(_ request: Request, store: Store, cloud: GraphCloudClient.Configuration,
                            phoneNumberID: PhoneNumberID?, mediaDirectory: String) async throws(Failure) -> MessageID {
        do {
            switch store {
            case .sqlite(let path):
                return try await sendOrThrow(request, databasePath: path, cloud: cloud, phoneNumberID: phoneNumberID,
                                             mediaDirectory: mediaDirectory)
            case .postgres(let location):
                return try await sendOrThrow(request, location: location, cloud: cloud, phoneNumberID: phoneNumberID,
                                             mediaDirectory: mediaDirectory)
            }
        } catch let failure as Failure {
            throw failure
        } catch let error as OutboxError {
            throw Failure(description: error.description)
        } catch let refusal as OutgoingFile.Refusal {
            throw Failure(description: "not sent: \(refusal)")
        } catch let problem as PostgresConnectionProblem {
            throw Failure(description: problem.description)
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
        return try await deliver(localID, from: database, cloud: cloud)
    }

    /// On PostgreSQL: the message is written as the database role's, and sent by this
    /// process under a presence lease of its own, so that a listener's sender neither takes
    /// the row nor makes it uncertain while this one waits for the answer.
    private static func sendOrThrow(_ request: Request, location: PostgresLocation, cloud: GraphCloudClient.Configuration,
                                    phoneNumberID: PhoneNumberID?, mediaDirectory: String) async throws -> MessageID {
        let logger = Logger(label: "wabox.send", factory: { _ in SwiftLogNoOpLogHandler() })
        try await PostgresStore.probe(location, logger: logger)
        return try await PostgresStore.withStore(location, logger: logger, maximumConnections: 2) { store in
            let now = Int64(Date().timeIntervalSince1970)
            let localID = "send-" + UUID().uuidString.lowercased()
            let conversation = try await store.conversationForSending(to: request.to, on: phoneNumberID, at: now)
            if let file = request.file {
                let caption = request.caption.flatMap { $0.isEmpty ? nil : $0 }
                let outgoing = try await OutgoingFile.prepareOffThePool(path: file, mediaDirectory: mediaDirectory,
                                                                        caption: caption)
                try await store.enqueueFile(in: conversation, file: outgoing.file, kind: outgoing.kind, sha256: outgoing.sha256,
                                            caption: caption, replyTo: request.replyTo, localID: localID, at: now,
                                            agent: location.user)
            } else {
                try await store.enqueueOutbound(in: conversation, content: .text(body: request.text ?? ""),
                                                replyTo: request.replyTo, localID: localID, at: now, agent: location.user)
            }
            let outbox = PostgresOutbox(store: store, claimant: LeaseClaimant(pid: getpid(), host: LeaseHolder.hostName(),
                                                                              role: "send"), mediaDirectory: mediaDirectory)
            return try await outbox.whilePresent { try await deliver(localID, from: outbox, cloud: cloud) }
        }
    }

    /// Sends the row `localID` at once, and says what became of it.
    private static func deliver(_ localID: String, from outbox: any OutboxStore,
                                cloud: GraphCloudClient.Configuration) async throws -> MessageID {
        let quiet = Logger(label: "wabox.send", factory: { _ in SwiftLogNoOpLogHandler() })
        let client = GraphCloudClient(configuration: cloud, logger: quiet)
        // A script waits seconds, not minutes: a few quick retries, then the outbox keeps it.
        let sender = OutboxSender(database: outbox, client: client,
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
