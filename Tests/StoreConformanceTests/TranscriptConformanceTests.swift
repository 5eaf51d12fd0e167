import Foundation
import InboxCore
import InboxStore
import InboxTesting
import PostgresStore
import StoreContract
import Testing

// The transcripts' promises (StoreContract.TranscriptStore) on every backend: a customer's
// downloaded voice note is due, with a file this host can read, until its transcript is
// done or failed; one left running is due again; the same bytes are transcribed once.

@Suite(.postgresServer) struct TranscriptConformanceTests {
    static let voice = Data((0..<1_500).map { UInt8(($0 * 31) % 253) })

    static func voiceNote(_ id: String, mediaID: String, timestamp: Int64) -> Data {
        Bodies.single(["contacts": [Bodies.contact("33612345678", name: "Amélie Laurent")],
                       "messages": [["from": "33612345678", "id": id, "timestamp": String(timestamp), "type": "audio",
                                     "audio": ["id": mediaID, "mime_type": "audio/ogg; codecs=opus", "voice": true,
                                               "sha256": Bodies.base64Digest(voice)]]]])
    }

    @Test(arguments: Backend.allCases)
    func aDownloadedVoiceNoteIsDueWithAReadableFileUntilItsTranscriptIsKept(_ backend: Backend) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-transcripts-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try await withInbox(backend) { inbox in
            let queue = try #require(inbox as? any MediaQueueStore)
            try await inbox.journalAndApply([
                Self.voiceNote("wamid.voice.1", mediaID: "6001", timestamp: 1_764_400_000),
                Self.voiceNote("wamid.voice.2", mediaID: "6002", timestamp: 1_764_400_050),
            ])
            _ = try await queue.queueNewMedia()
            let transcripts: any TranscriptStore
            let downloaded: String
            let hash = MediaDigest.hex(of: Self.voice)
            if let postgres = inbox as? PostgresStore {
                // Downloaded on another host: the path is not here, the database has the bytes.
                downloaded = "/nonexistent/downloader-host/media/\(hash)"
                try await postgres.shareMediaFile(contentHash: hash, bytes: Self.voice)
                transcripts = PostgresTranscripts(store: postgres, mediaDirectory: folder.appendingPathComponent("here").path)
            } else {
                downloaded = folder.appendingPathComponent(hash).path
                try Self.voice.write(to: URL(fileURLWithPath: downloaded))
                transcripts = try #require(inbox as? any TranscriptStore)
            }
            #expect(try await transcripts.dueTranscripts(limit: 10).isEmpty, "nothing is due before it is downloaded")
            let items = try await queue.dueMedia(at: .max, limit: 10)
            #expect(items.map(\.kind) == [.voice, .voice])
            for item in items {
                try await queue.markMediaReady(item.messageID, contentHash: hash, path: downloaded,
                                               fileSize: Int64(Self.voice.count), mimeType: item.mimeType,
                                               durationMilliseconds: 4_000)
            }
            let due = try await transcripts.dueTranscripts(limit: 10)
            #expect(due.map(\.messageID) == items.map(\.messageID))
            #expect(due.allSatisfy { FileManager.default.contents(atPath: $0.path) == Self.voice }, "\(due.map(\.path))")
            #expect(due.map(\.contentHash) == [hash, hash])

            // Running: still due (a stopped process leaves it so); done: never again.
            try await transcripts.startTranscript(due[0].messageID, at: 1_764_400_100_000)
            #expect(try await transcripts.dueTranscripts(limit: 10).count == 2)
            try await transcripts.finishTranscript(due[0].messageID, .success("bonjour, le colis est abîmé"),
                                                   at: 1_764_400_101_000)
            #expect(try await transcripts.dueTranscripts(limit: 10).map(\.messageID) == [due[1].messageID])
            // The same bytes: the other message finds the transcript to reuse.
            let twin = try await transcripts.transcript(ofContentHash: hash, besides: due[1].messageID)
            #expect(twin == MediaStatus.Transcript(state: .done, text: "bonjour, le colis est abîmé", reason: nil))
            #expect(try await transcripts.transcript(ofContentHash: hash, besides: due[0].messageID) == nil)
            try await transcripts.finishTranscript(due[1].messageID, .failure(TranscriptFailure("exit status 3")),
                                                   at: 1_764_400_102_000)
            #expect(try await transcripts.dueTranscripts(limit: 10).isEmpty)
        }
    }
}
