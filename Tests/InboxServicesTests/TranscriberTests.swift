import Foundation
import InboxCore
@testable import InboxServices
import InboxStore
import InboxTesting
import Logging
import Testing
import WebhookServer

/// The transcriber against a real temporary database, with small shell scripts as the
/// operator's `transcribe_command`.
@Suite struct TranscriberTests {
    let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// A database holding the media fixture (a voice note and an MP3 among others), its two
    /// audio files downloaded into the temporary folder; returns their message ids.
    func databaseWithDownloadedAudio() async throws -> (TemporaryDatabase, voice: Int64, audio: Int64) {
        let temp = try TemporaryDatabase()
        _ = try await temp.database.ingest([Fixtures.webhook("media")])
        try await temp.database.queueNewMedia()
        let items = try await temp.database.dueMedia(at: .max, limit: 10)
        let store = temp.directory.appendingPathComponent("media")
        try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
        var ids: [MediaAttachment.Kind: Int64] = [:]
        for item in items {
            // Every file is ready, so only the audio ones can be what the transcriber takes up.
            let hash = String(repeating: String(item.messageID), count: 8)
            let path = store.appendingPathComponent(hash).path
            try Data("bytes of \(item.kind.rawValue)".utf8).write(to: URL(fileURLWithPath: path))
            try await temp.database.markMediaReady(item.messageID, contentHash: hash, path: path, fileSize: 12,
                                                   mimeType: item.mimeType)
            ids[item.kind] = item.messageID
        }
        return (temp, try #require(ids[.voice]), try #require(ids[.audio]))
    }

    /// An executable script in the temporary folder.
    func script(_ name: String, _ body: String, in temp: TemporaryDatabase) throws -> String {
        let path = temp.directory.appendingPathComponent(name).path
        try "#!/bin/sh\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    func transcriber(_ command: String, _ temp: TemporaryDatabase, timeout: Duration = .seconds(30),
                     maxOutput: Int = 64 * 1024) -> Transcriber {
        Transcriber(database: temp.database,
                    configuration: .init(command: command, timeout: timeout, maxOutputBytes: maxOutput,
                                         idlePoll: .milliseconds(20), missingProgramPause: .milliseconds(50)),
                    logger: quiet)
    }

    /// Transcribes until nothing is due, at most `limit` turns.
    func drain(_ transcriber: Transcriber, limit: Int = 10) async {
        for _ in 0..<limit {
            if await transcriber.runDue() != .worked { return }
        }
    }

    @Test func eachCustomerAudioIsTranscribedOnceWithItsPathAsTheOneArgument() async throws {
        let (temp, voice, audio) = try await databaseWithDownloadedAudio()
        defer { temp.remove() }
        let record = temp.directory.appendingPathComponent("calls").path
        let command = try script("transcribe", """
            printf '%s|%s\\n' "$#" "$1" >> '\(record)'
            printf 'hola, mi pedido llegó roto\\n\\n'
            """, in: temp)
        let transcriber = transcriber(command, temp)
        await drain(transcriber)
        #expect(try temp.database.transcript(ofMessage: voice) == .init(state: .done, text: "hola, mi pedido llegó roto"))
        #expect(try temp.database.transcript(ofMessage: audio)?.state == .done)
        let voicePath = try #require(try temp.database.media(ofMessage: voice)?.path)
        let audioPath = try #require(try temp.database.media(ofMessage: audio)?.path)
        #expect(try String(contentsOfFile: record, encoding: .utf8) == "1|\(voicePath)\n1|\(audioPath)\n")
        // Images, videos, documents and stickers are not audio: nothing else was run.
        let messages = try temp.database.messages(in: ConversationID(rawValue: 1)).items
        #expect(messages.compactMap { $0.media?.transcript }.count == 2)
        // Nothing is due any more, and a second run transcribes nothing again.
        #expect(try await temp.database.dueTranscripts(limit: 10).isEmpty)
        await drain(transcriber)
        #expect(try String(contentsOfFile: record, encoding: .utf8).split(separator: "\n").count == 2)
        // The thread's query carries the transcript with the file's state.
        let drawn = try #require(messages.first { $0.rowID == voice }?.media)
        #expect(drawn.state == .ready)
        #expect(drawn.transcript?.text == "hola, mi pedido llegó roto")
    }

    @Test func aNonZeroExitFailsWithTheFirstLineOfStandardError() async throws {
        let (temp, voice, _) = try await databaseWithDownloadedAudio()
        defer { temp.remove() }
        let command = try script("transcribe", """
            echo 'partial words' ; echo '' >&2 ; echo 'whisper: model file /opt/ggml-base.bin not found' >&2
            echo 'second line' >&2 ; exit 3
            """, in: temp)
        await drain(transcriber(command, temp))
        let transcript = try #require(try temp.database.transcript(ofMessage: voice))
        #expect(transcript.state == .failed)
        #expect(transcript.text == nil)
        #expect(transcript.reason == "whisper: model file /opt/ggml-base.bin not found (exit status 3)")
        // Failed is final: not taken up again.
        #expect(try await temp.database.dueTranscripts(limit: 10).isEmpty)
    }

    @Test func aTranscriberPastItsTimeIsKilledWithItsChildren() async throws {
        let (temp, voice, _) = try await databaseWithDownloadedAudio()
        defer { temp.remove() }
        let pids = temp.directory.appendingPathComponent("pids").path
        // A child in the background that would outlive a kill of the script alone.
        let command = try script("transcribe", """
            sleep 300 &
            echo $! >> '\(pids)'
            wait
            """, in: temp)
        let outcome = await transcriber(command, temp, timeout: .milliseconds(500))
            .transcribe(try #require(try await temp.database.dueTranscripts(limit: 1).first))
        #expect(outcome == .failed("took longer than 0.5 s (transcribe_timeout)"))
        #expect(try temp.database.transcript(ofMessage: voice)?.reason == "took longer than 0.5 s (transcribe_timeout)")
        let child = try #require(pid_t(try String(contentsOfFile: pids, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(try await waitUntil(timeout: 10) { !processIsAlive(child) }, "the transcriber's child \(child) outlived it")
    }

    @Test func outputPastTheCapIsCutOff() async throws {
        let (temp, voice, _) = try await databaseWithDownloadedAudio()
        defer { temp.remove() }
        // 200 KiB of words: the first 1 KiB is kept, and the program is not blocked by a full pipe.
        let command = try script("transcribe", "yes 'palabra' | head -c 204800", in: temp)
        await drain(transcriber(command, temp, maxOutput: 1024))
        let text = try #require(try temp.database.transcript(ofMessage: voice)?.text)
        #expect(text.hasSuffix(" …"))
        #expect(text.utf8.count <= 1024 + " …".utf8.count)
        #expect(text.hasPrefix("palabra\npalabra"))
    }

    /// A process stopped mid-transcript (the screen quit, `serve` restarted) leaves it
    /// `running`; the next lease holder runs it again, and only it.
    @Test func aTranscriptCutShortByAStopIsDoneAgainByTheNextProcess() async throws {
        let (temp, voice, audio) = try await databaseWithDownloadedAudio()
        defer { temp.remove() }
        let started = temp.directory.appendingPathComponent("started").path
        let slow = try script("slow", "echo $$ > '\(started)'; exec sleep 300", in: temp)
        let first = transcriber(slow, temp)
        let running = Task { try await first.run() }
        let sleeper = try await waitUntil(timeout: 15) { FileManager.default.fileExists(atPath: started) }
        try #require(sleeper, "the first transcriber never started its program")
        #expect(try temp.database.transcript(ofMessage: voice)?.state == .running)
        running.cancel()
        _ = try? await running.value
        // Stopping killed the program and recorded nothing against the voice note.
        let pid = try #require(pid_t(try String(contentsOfFile: started, encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(try await waitUntil(timeout: 10) { !processIsAlive(pid) }, "the stopped transcriber's program \(pid) still runs")
        #expect(try temp.database.transcript(ofMessage: voice)?.state == .running)
        #expect(try temp.database.transcript(ofMessage: audio) == nil)
        #expect(try await temp.database.dueTranscripts(limit: 10).map(\.messageID) == [voice, audio])

        let record = temp.directory.appendingPathComponent("calls").path
        let quick = try script("quick", "echo \"$1\" >> '\(record)'; echo 'gracias'", in: temp)
        let next = transcriber(quick, temp)
        let restarted = Task { try await next.run() }
        defer { restarted.cancel() }
        let caughtUp = try await waitUntil(timeout: 15) {
            try temp.database.transcript(ofMessage: voice)?.state == .done
                && temp.database.transcript(ofMessage: audio)?.state == .done
        }
        #expect(caughtUp, "the next transcriber did not redo the pending transcripts")
        #expect(try String(contentsOfFile: record, encoding: .utf8).split(separator: "\n").count == 2)
    }

    @Test func aMissingProgramLeavesTheVoiceNotesWaiting() async throws {
        let (temp, voice, _) = try await databaseWithDownloadedAudio()
        defer { temp.remove() }
        let transcriber = transcriber("no-such-transcriber-wabox", temp)
        #expect(await transcriber.runDue() == .programMissing)
        #expect(try temp.database.transcript(ofMessage: voice) == nil)
        #expect(try await temp.database.dueTranscripts(limit: 10).count == 2)
    }

    /// The same bytes in two messages (a voice note forwarded again) are transcribed once.
    @Test func theSameFileTwiceIsTranscribedOnce() async throws {
        let (temp, voice, audio) = try await databaseWithDownloadedAudio()
        defer { temp.remove() }
        let kept = try #require(try temp.database.media(ofMessage: voice))
        try await temp.database.markMediaReady(audio, contentHash: try #require(kept.contentHash), path: try #require(kept.path),
                                               fileSize: 12, mimeType: "audio/ogg")
        let record = temp.directory.appendingPathComponent("calls").path
        let command = try script("transcribe", "echo x >> '\(record)'; echo 'una vez'", in: temp)
        await drain(transcriber(command, temp))
        #expect(try temp.database.transcript(ofMessage: voice)?.text == "una vez")
        #expect(try temp.database.transcript(ofMessage: audio)?.text == "una vez")
        #expect(try String(contentsOfFile: record, encoding: .utf8) == "x\n")
    }

    /// The transcriber runs where the downloads run: in the process that holds the lease.
    @Test func onlyTheLeaseHolderTranscribes() async throws {
        let temp = try TemporaryDatabase()
        defer { temp.remove() }
        var inbox = ServiceAssembly.Configuration(role: .inbox)
        inbox.transcription = .init(command: "/bin/cat")
        // No listener and no token: nothing runs here, no lease is taken, nothing transcribes.
        let idle = try await ServiceAssembly.assemble(inbox, database: temp.database, logger: quiet)
        #expect(!idle.services.contains { $0 is Transcriber })
        inbox.listener = WebhookConfiguration(host: "127.0.0.1", port: 0, verifyToken: Fixtures.verifyToken,
                                              appSecret: Fixtures.appSecret)
        let holder = try await ServiceAssembly.assemble(inbox, database: temp.database, logger: quiet)
        #expect(holder.services.contains { $0 is Transcriber })
        #expect(try temp.database.currentLease()?.pid == getpid())
    }
}
