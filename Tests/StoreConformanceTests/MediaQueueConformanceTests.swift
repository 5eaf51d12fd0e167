import Foundation
import InboxCore
import InboxStore
import InboxTesting
import Logging
import PostgresStore
import StoreContract
import Testing

// The media download queue's promises (StoreContract.MediaQueueStore), written once and
// run against every backend: every inbound file is queued once, only what is due is handed
// out, a ready file serves its twin, a failure waits or ends the item.

extension Bodies {
    /// The SHA-256 of `bytes` in base64, as a webhook gives it.
    static func base64Digest(_ bytes: Data) -> String {
        Data(MediaDigest.decode(MediaDigest.hex(of: bytes))!).base64EncodedString()
    }

    /// A customer's file of `type` (image, document, …) with the digest in base64, as Meta sends it.
    static func file(_ id: String, type: String, mediaID: String, bytes: Data, from waID: String = "33612345678",
                     timestamp: Int64, filename: String? = nil) -> Data {
        var media: JSON = ["id": mediaID, "mime_type": type == "image" ? "image/jpeg" : "application/pdf",
                           "sha256": base64Digest(bytes)]
        if let filename { media["filename"] = filename }
        return single(["contacts": [contact(waID, name: "Amélie Laurent")],
                       "messages": [["from": waID, "id": id, "timestamp": String(timestamp), "type": type, type: media]]])
    }
}

@Suite(.postgresServer) struct MediaQueueConformanceTests {
    static let photo = Data((0..<3_000).map { UInt8(($0 * 13) % 251) })
    static let invoice = Data("%PDF-1.4 the invoice".utf8)

    /// Runs `body` with a fresh inbox of `backend` as its media downloader sees it.
    func withQueue(_ backend: Backend, _ body: @Sendable (ApplyingInbox, any MediaQueueStore) async throws -> Void)
        async throws {
        try await withInbox(backend) { store in
            try await body(store, try #require(store as? any MediaQueueStore))
        }
    }

    @Test(arguments: Backend.allCases)
    func everyInboundFileIsQueuedOnceAndOnlyWhatIsDueIsHandedOut(_ backend: Backend) async throws {
        try await withQueue(backend) { inbox, queue in
            try await inbox.journalAndApply([
                Bodies.file("wamid.photo.1", type: "image", mediaID: "5001", bytes: Self.photo, timestamp: 1_764_400_000),
                Bodies.text("wamid.text", from: "33612345678", timestamp: 1_764_400_010),
                Bodies.file("wamid.invoice", type: "document", mediaID: "5002", bytes: Self.invoice, timestamp: 1_764_400_020,
                            filename: "../../invoice.pdf"),
            ])
            _ = try await queue.queueNewMedia()
            // Delivered again: the messages are known, nothing new is queued.
            try await inbox.journalAndApply([
                Bodies.file("wamid.photo.1", type: "image", mediaID: "5001", bytes: Self.photo, timestamp: 1_764_400_000),
            ], receivedAt: 1_764_500_100)
            #expect(try await queue.queueNewMedia() == 0)
            let due = try await queue.dueMedia(at: 1_764_500_000_000, limit: 10)
            #expect(due.map(\.mediaID) == ["5001", "5002"])
            #expect(due.map(\.kind) == [.image, .document])
            #expect(due.map(\.state) == [.pending, .pending])
            #expect(due.map(\.sentAt) == [1_764_400_000, 1_764_400_020])
            #expect(due[0].mimeType == "image/jpeg" && due[0].sha256 == Bodies.base64Digest(Self.photo))
            #expect(due[1].filename == "../../invoice.pdf", "the customer's name is data, kept as sent")
            #expect(try await queue.dueMedia(at: 1_764_500_000_000, limit: 1).map(\.mediaID) == ["5001"])

            // A transient failure waits for its time; attempts count.
            try await queue.retryMedia(due[1].messageID, at: 1_764_500_060_000, reason: "the Cloud API is busy")
            #expect(try await queue.dueMedia(at: 1_764_500_000_000, limit: 10).map(\.mediaID) == ["5001"])
            let retried = try #require(try await queue.dueMedia(at: 1_764_500_060_000, limit: 10).first { $0.mediaID == "5002" })
            #expect(retried.attempts == 1 && retried.reason == "the Cloud API is busy")
            // Given up: never handed out again.
            try await queue.markMedia(due[1].messageID, .failed, reason: "too large")
            #expect(try await queue.dueMedia(at: 1_764_600_000_000, limit: 10).map(\.mediaID) == ["5001"])
        }
    }

    @Test(arguments: Backend.allCases)
    func aReadyFileServesAnotherMessageWithTheSameMediaID(_ backend: Backend) async throws {
        try await withQueue(backend) { inbox, queue in
            try await inbox.journalAndApply([
                Bodies.file("wamid.photo.1", type: "image", mediaID: "5001", bytes: Self.photo, timestamp: 1_764_400_000),
                Bodies.file("wamid.photo.2", type: "image", mediaID: "5001", bytes: Self.photo, timestamp: 1_764_400_030),
            ])
            _ = try await queue.queueNewMedia()
            let due = try await queue.dueMedia(at: 1_764_500_000_000, limit: 10)
            #expect(due.count == 2)
            #expect(try await queue.readyMedia(withMediaID: "5001") == nil)

            let hash = MediaDigest.hex(of: Self.photo)
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-media-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: folder) }
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let path = folder.appendingPathComponent(hash).path
            try Self.photo.write(to: URL(fileURLWithPath: path))
            try await queue.shareMediaFile(contentHash: hash, bytes: Self.photo)
            try await queue.markMediaReady(due[0].messageID, contentHash: hash, path: path, fileSize: Int64(Self.photo.count),
                                           mimeType: "image/jpeg", durationMilliseconds: nil)

            let twin = try #require(try await queue.readyMedia(withMediaID: "5001"))
            #expect(twin.messageID == due[0].messageID && twin.state == .ready && twin.contentHash == hash)
            #expect(twin.path == path && twin.fileSize == Int64(Self.photo.count) && twin.attempts == 1)
            #expect(try await queue.keepsFile(of: twin))
            #expect(try await queue.dueMedia(at: 1_764_500_000_000, limit: 10).map(\.messageID) == [due[1].messageID])
            if let postgres = queue as? PostgresStore {
                // The shared inbox keeps the bytes for the screens of every host.
                #expect(try await postgres.mediaFile(contentHash: hash) == Self.photo)
                #expect(try await postgres.mediaFile(contentHash: String(repeating: "0", count: 64)) == nil)
                #expect(try await postgres.mediaCounts() == [.ready: 1, .pending: 1])
            }
        }
    }
}
