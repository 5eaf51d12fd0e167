import Foundation
import InboxCore
import InboxStore

/// A customer's downloaded file leaving the media store: a copy kept in `download_dir`
/// (`S`), or the file handed to `open_command` (`o`). The runner calls these off the
/// main thread; the naming is pure, for the reducer.
enum MediaFiles {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    // MARK: - Names

    /// The name a copy of `attachment` is saved under: the customer's file name (a
    /// document's) made safe, else `<kind>-<date>.<ext>` from the MIME type.
    ///
    /// - Important: The customer's name is data, never a path: `SafeFileName` takes out
    ///   `/`, `..`, control and bidi characters, so the copy stays inside `download_dir`.
    static func savedName(for attachment: MediaAttachment, mimeType: String?, sentAt: Int64, utcOffset: Int) -> String {
        let stem = "\(attachment.kind.rawValue)-\(day(sentAt, utcOffset: utcOffset))"
        let generated = stem + (fileExtension(forMimeType: mimeType ?? attachment.mimeType).map { "." + $0 } ?? "")
        guard let filename = attachment.filename, !filename.isEmpty else { return SafeFileName.make(from: generated) }
        return SafeFileName.make(from: filename, fallback: stem)
    }

    /// `2025-11-29` for a time in Unix seconds, in the screen's zone.
    static func day(_ seconds: Int64, utcOffset: Int) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: utcOffset) ?? TimeZone(secondsFromGMT: 0)!
        let parts = calendar.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        func two(_ value: Int?) -> String { String(format: "%02d", value ?? 0) }
        return "\(parts.year ?? 1970)-\(two(parts.month))-\(two(parts.day))"
    }

    /// The usual extension for a MIME type (`image/jpeg` → `jpg`), parameters ignored;
    /// nil for a type without one known.
    static func fileExtension(forMimeType mimeType: String?) -> String? {
        guard let mimeType else { return nil }
        let type = mimeType.lowercased().split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        let known: [String: String] = [
            "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif", "image/heic": "heic",
            "video/mp4": "mp4", "video/3gpp": "3gp", "video/quicktime": "mov",
            "audio/ogg": "ogg", "audio/mpeg": "mp3", "audio/aac": "aac", "audio/mp4": "m4a", "audio/amr": "amr",
            "application/pdf": "pdf", "text/plain": "txt", "text/csv": "csv", "application/zip": "zip",
            "application/msword": "doc", "application/vnd.ms-excel": "xls", "application/vnd.ms-powerpoint": "ppt",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
        ]
        return known[type]
    }

    /// `name (n).ext` for the n-th file of that name, within `SafeFileName.maximumBytes`.
    static func numbered(_ name: String, _ number: Int) -> String {
        guard number > 1 else { return name }
        var stem = Substring(name)
        var suffix = ""
        if let dot = name.lastIndex(of: "."), dot != name.startIndex {
            stem = name[..<dot]
            suffix = String(name[dot...])
        }
        suffix = " (\(number))" + suffix
        while !stem.isEmpty, stem.utf8.count + suffix.utf8.count > SafeFileName.maximumBytes { stem.removeLast() }
        return stem + suffix
    }

    // MARK: - Saving

    /// Copies the file at `source` into `directory` (made when missing) as `name`, or as
    /// `name (2)`, `name (3)`… when taken, and returns the copy's path.
    ///
    /// - Important: Never overwrites: each name is created with `O_EXCL`, which also
    ///   refuses a symbolic link planted under that name. `name` must already be safe.
    static func saveCopy(of source: String, named name: String, into directory: String) throws -> String {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw Failure(description: "cannot create \(directory): \(error.localizedDescription)")
        }
        guard let input = FileHandle(forReadingAtPath: source) else {
            throw Failure(description: "cannot read \(source): \(String(cString: strerror(errno)))")
        }
        defer { try? input.close() }
        for number in 1...10_000 {
            let path = (directory as NSString).appendingPathComponent(numbered(name, number))
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if descriptor < 0 {
                if errno == EEXIST { continue }
                throw Failure(description: "cannot create \(path): \(String(cString: strerror(errno)))")
            }
            let output = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
            do {
                while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty {
                    try output.write(contentsOf: chunk)
                }
                try output.close()
            } catch {
                try? output.close()
                unlink(path)
                throw Failure(description: "cannot write \(path): \(error.localizedDescription)")
            }
            return path
        }
        throw Failure(description: "\(directory) already holds 10000 files named like \(name)")
    }

    // MARK: - Opening

    /// The program `command` names: a path when it has a `/`, else the first executable
    /// of that name on `searchPath` (`PATH`).
    static func executable(_ command: String, searchPath: String?) -> URL? {
        ProgramLookup.find(command, searchPath: searchPath)
    }

    /// Starts `command` with `path` as its one argument (no shell, so nothing in the path
    /// is interpreted) and returns once it runs; `exited` hears a non-zero exit status.
    /// `launched` is called before `exited` can be, so a quick failure is reported last.
    ///
    /// - Important: The program gets `/dev/null` for its standard streams: the screen owns
    ///   the terminal. The path is absolute (the media store's), so it never reads as an option.
    static func launch(_ command: String, opening path: String, searchPath: String?,
                     launched: @escaping @Sendable () -> Void, exited: @escaping @Sendable (Int32) -> Void) throws {
        guard let program = executable(command, searchPath: searchPath) else {
            throw Failure(description: command.contains("/")
                ? "open_command \(command) is not an executable file"
                : "open_command \(command) is not on PATH")
        }
        let pid: pid_t
        do {
            // Through posix_spawn, not Foundation's Process, which crashes now and then (ProcessSpawn).
            pid = try ProcessSpawn.start(program.path, [path], environment: ProcessInfo.processInfo.environment)
        } catch {
            throw Failure(description: "could not start \(command): \(error.description)")
        }
        launched()
        // Reaped by a thread of its own, so that no zombie is left and a failure is heard.
        let reaper = Thread {
            let status = ProcessSpawn.terminationStatus(ProcessSpawn.waitForExit(pid))
            if status != 0 { exited(status) }
        }
        reaper.name = "wabox open_command"
        reaper.start()
    }
}

/// Finds the programs the operator names in the settings (`open_command`,
/// `transcribe_command`) as a shell would, without running a shell.
public enum ProgramLookup {
    /// The program `command` names: a path when it has a `/`, else the first executable
    /// of that name on `searchPath` (`PATH`).
    public static func find(_ command: String, searchPath: String?) -> URL? {
        func runnable(_ path: String) -> Bool {
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
                && FileManager.default.isExecutableFile(atPath: path)
        }
        if command.contains("/") { return runnable(command) ? URL(fileURLWithPath: command) : nil }
        for directory in (searchPath ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let path = (String(directory) as NSString).appendingPathComponent(command)
            if runnable(path) { return URL(fileURLWithPath: path) }
        }
        return nil
    }
}

/// The file prompt's paths on disk (Ctrl-O): `~` and relative paths resolved, and the
/// names a folder holds for Tab. The runner calls these off the main thread.
enum PathFiles {
    /// `path` as typed, made absolute: `~` and `~/…` are the home folder, a relative path
    /// is taken from `workingDirectory`.
    static func expand(_ path: String, home: String, workingDirectory: String) -> String {
        if path == "~" { return home }
        if path.hasPrefix("~/") { return (home as NSString).appendingPathComponent(String(path.dropFirst(2))) }
        if path.hasPrefix("/") { return path }
        return (workingDirectory as NSString).appendingPathComponent(path)
    }

    /// The names in the folder of `typed` that start with its last part, sorted, folders
    /// with a trailing `/`. Hidden names only when the last part starts with a dot.
    static func complete(_ typed: String, home: String, workingDirectory: String) -> PathCompletion {
        if typed == "~" { return PathCompletion(typed: typed, matches: ["~/"]) }
        let folderPart = typed.lastIndex(of: "/").map { String(typed[...$0]) } ?? ""
        let partial = Array(typed.unicodeScalars.dropFirst(folderPart.unicodeScalars.count))
        let folder = folderPart.isEmpty ? workingDirectory : expand(folderPart, home: home, workingDirectory: workingDirectory)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            // "file/" does not exist for stat(2): asked without the slash, a file says so.
            let bare = folder.count > 1 && folder.hasSuffix("/") ? String(folder.dropLast()) : folder
            var isFolder: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: bare, isDirectory: &isFolder)
            let problem = !exists ? "no folder \(bare)" : !isFolder.boolValue ? "\(bare) is a file, not a folder"
                : "cannot read the folder \(bare): check that you may list it"
            return PathCompletion(typed: typed, matches: [], problem: TerminalText.sanitize(problem))
        }
        let showHidden = partial.first == "."
        let matches = names.filter { name in
            name.unicodeScalars.starts(with: partial) && (showHidden || !name.hasPrefix("."))
        }.map { name -> String in
            var isFolder: ObjCBool = false
            let path = (folder as NSString).appendingPathComponent(name)
            return FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue ? name + "/" : name
        }.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
        return PathCompletion(typed: typed, matches: matches)
    }
}
