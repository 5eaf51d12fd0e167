import Foundation
import InboxCore
import InboxStore
import InboxTesting
@testable import InboxTUI
import Testing

/// A voice note on the screen: its length once downloaded, its transcript (or why there is
/// none) under it, and the status bar's keys for a picked file.
@Suite struct VoiceNoteScreenTests {
    /// The media fixture's thread, its voice note downloaded (7.4 s long) with `transcript`.
    func thread(transcript: Result<String, TranscriptFailure>?, running: Bool = false,
                width: Int = 100) async throws -> ScreenHarness {
        let h = try await ScreenHarness(width: width, height: 30, fixtures: ["media"])
        try await h.database.queueNewMedia()
        let voice = try #require(try await h.database.dueMedia(at: .max, limit: 10).first { $0.kind == .voice })
        try await h.database.markMediaReady(voice.messageID, contentHash: "ab12", path: "/srv/media/ab12", fileSize: 9_800,
                                            mimeType: "audio/ogg", durationMilliseconds: 7_400)
        if running { try await h.database.startTranscript(voice.messageID, at: 1) }
        if let transcript { try await h.database.finishTranscript(voice.messageID, transcript, at: 2) }
        try await h.settle { h.app.state.conversations.count == 1 }
        h.press(.enter)
        try await h.settle { h.app.state.thread.contains { $0.media?.durationMilliseconds != nil } }
        return h
    }

    @Test func aDownloadedVoiceNoteShowsHowLongItPlaysAndItsTranscript() async throws {
        let h = try await thread(transcript: .success("Hola, el paquete llegó abierto y falta una pieza. ¿Me pueden mandar otra?"))
        try await h.settle { h.screen.contains("transcript:") }
        #expect(h.screen.contains("[voice note]"))
        #expect(h.screen.contains("0:07 · 9 KB · downloaded"), "\(h.screen)")
        // Wrapped inside the bubble, every line of it drawn.
        let lines = h.lines.filter { $0.contains("transcript:") || $0.contains("pieza") || $0.contains("otra?") }
        #expect(lines.first?.contains("transcript: Hola, el paquete") == true, "\(h.screen)")
        #expect(h.screen.contains("otra?"))
        // The MP3 beside it has no length: only Ogg files say.
        #expect(h.screen.contains("[audio]"))
    }

    @Test func aTranscriptIsSanitisedBeforeItIsDrawn() async throws {
        let h = try await thread(transcript: .success("ok \u{1b}[31mred\u{1b}[0m \u{202e}olleh"))
        try await h.settle { h.screen.contains("transcript:") }
        #expect(!h.screen.contains("\u{1b}"))
        #expect(!h.screen.contains("\u{202e}"))
        #expect(h.screen.contains("transcript: ok ␛[31mred␛[0m"), "\(h.screen)")
    }

    @Test func aFailedOrRunningTranscriptSaysSo() async throws {
        let failed = try await thread(transcript: .failure(TranscriptFailure("took longer than 120 s (transcribe_timeout)")))
        try await failed.settle { failed.screen.contains("no transcript:") }
        // Wrapped to the bubble: the reason on the line under it.
        #expect(failed.screen.contains("no transcript: took longer than 120 s"), "\(failed.screen)")
        #expect(failed.screen.contains("(transcribe_timeout)"))
        let running = try await thread(transcript: nil, running: true)
        try await running.settle { running.screen.contains("transcribing…") }
    }

    @Test func aPickedFileHintsOpenAndSave() async throws {
        let h = try await thread(transcript: nil)
        let idle = try #require(h.lines.last)
        #expect(!idle.contains("o open"))
        h.press(.up)  // the sticker, the newest message
        #expect(h.app.state.focus == .thread)
        try await h.settle { h.lines.last?.contains("o open · S save  r reply  ? help") == true }
        // A text message picked: the usual keys.
        let textOnly = try await ScreenHarness(width: 100, height: 30, fixtures: ["text"])
        try await textOnly.settle { textOnly.app.state.conversations.count == 1 }
        textOnly.press(.enter)
        try await textOnly.settle { !textOnly.app.state.thread.isEmpty }
        textOnly.press(.up)
        #expect(textOnly.lines.last?.contains("o open") == false)
    }

    @Test func durationsInWords() {
        #expect(Describe.duration(7_400) == "0:07")
        #expect(Describe.duration(59_600) == "1:00")
        #expect(Describe.duration(754_000) == "12:34")
        #expect(Describe.duration(3_723_000) == "1:02:03")
        #expect(Describe.media(MediaStatus(state: .ready, fileSize: 2_048, durationMilliseconds: 65_000), downloading: true)
            == "1:05 · 2 KB · downloaded")
    }
}
