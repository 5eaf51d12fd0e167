import Foundation
import InboxServices
import Synchronization
import Testing

/// `doctor`'s lines for `download_dir`, `open_command` and `transcribe_command`, on real
/// temporary folders and scripts.
@Suite struct DoctorProgramTests {
    final class Lines: Sendable {
        private let lines = Mutex<[String]>([])
        func add(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("wabox-doctor-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    func check(downloads: String? = nil, open: String? = nil, transcribe: String? = nil,
               searchPath: String? = "/usr/bin:/bin") -> (DoctorReport, [String]) {
        let lines = Lines()
        var report = DoctorReport(emit: lines.add)
        Diagnosis.checkPrograms(downloadDirectory: downloads ?? folder.appendingPathComponent("Downloads").path,
                                openCommand: open, transcribeCommand: transcribe, searchPath: searchPath, &report)
        return (report, lines.all)
    }

    @Test func aWritableOrCreatableDownloadFolderPasses() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let later = folder.appendingPathComponent("not/yet").path
        let (report, lines) = check(downloads: later)
        #expect(report.failures == 0)
        #expect(lines.first == "✓ downloads   none yet at \(later); made by the first `S`")
        #expect(lines[1].hasPrefix("✓ open        open_command not set"))
        #expect(lines[2] == "✓ transcribe  transcribe_command not set: voice notes show their length but no transcript")
        let (_, existing) = check(downloads: folder.path)
        #expect(existing.first == "✓ downloads   \(folder.path): `S` saves copies of customers' files here")
    }

    @Test func aDownloadFolderThatIsAFileOrReadOnlyFails() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("Downloads")
        try Data().write(to: file)
        let (report, lines) = check(downloads: file.path)
        #expect(report.failures == 1)
        #expect(lines.first?.hasPrefix("✗ downloads   \(file.path) is a file, not a folder") == true, "\(lines)")
        #expect(lines.first?.contains("WABOX_DOWNLOAD_DIR") == true)
        // Below a file nothing can be created either.
        let (_, below) = check(downloads: file.appendingPathComponent("sub").path)
        #expect(below.first?.contains("cannot be created: \(file.path) is not a folder") == true, "\(below)")
        guard getuid() != 0 else { return }  // root writes anywhere
        let locked = folder.appendingPathComponent("locked")
        try FileManager.default.createDirectory(at: locked, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o500])
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: locked.path) }
        let (_, readOnly) = check(downloads: locked.path)
        #expect(readOnly.first?.contains("is not writable by this user") == true, "\(readOnly)")
    }

    @Test func programsAreFoundOnThePathOrByTheirPath() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let script = folder.appendingPathComponent("transcribe").path
        try "#!/bin/sh\necho hi\n".write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        let (report, lines) = check(open: "sh", transcribe: script)
        #expect(report.failures == 0, "\(lines)")
        #expect(lines[1] == "✓ open        sh is /usr/bin/sh: `o` opens customers' files with it"
            || lines[1] == "✓ open        sh is /bin/sh: `o` opens customers' files with it", "\(lines)")
        #expect(lines[2] == "✓ transcribe  \(script) is \(script): voice notes are transcribed with it, the file's path its one argument")
    }

    @Test func missingProgramsSayWhatToFix() throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let notExecutable = folder.appendingPathComponent("whisper.sh").path
        try "echo\n".write(toFile: notExecutable, atomically: true, encoding: .utf8)
        let (report, lines) = check(open: "no-such-opener-wabox", transcribe: notExecutable)
        #expect(report.failures == 2)
        #expect(lines[1] == "✗ open        no-such-opener-wabox is not on PATH (/usr/bin:/bin): install it, or set WABOX_OPEN_COMMAND or open_command to its full path")
        #expect(lines[2] == "✗ transcribe  \(notExecutable) is not an executable file: check the path, or `chmod +x \(notExecutable)`; WABOX_TRANSCRIBE_COMMAND or transcribe_command in config.toml set it")
        // Options in the setting: one program is run, with no shell, so they belong in a script.
        let (_, withOptions) = check(transcribe: "whisper-cli -m model.bin")
        #expect(withOptions[2].hasPrefix("✗ transcribe  whisper-cli -m model.bin is not a program on PATH: transcribe_command names one program"))
    }
}
