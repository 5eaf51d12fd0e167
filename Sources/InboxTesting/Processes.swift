import Foundation

/// The built `wabox` binary: `WABOX_BINARY` when set, else the one beside the test bundle.
public func waboxBinary() throws -> String {
    if let path = ProcessInfo.processInfo.environment["WABOX_BINARY"] { return path }
    let products = Bundle.module.bundleURL.deletingLastPathComponent()
    let path = products.appendingPathComponent("wabox").path
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw Fixtures.FixtureError(description: "no wabox binary at \(path): run `swift build` first or set WABOX_BINARY")
    }
    return path
}

/// What a finished command printed.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs a program to completion with a clean environment plus `environment`.
public func runCommand(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                       stdin: Data? = nil) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = baseEnvironment().merging(environment) { $1 }
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try input.fileHandleForWriting.close()
    // Read both pipes to the end before waiting, so that a large output cannot block.
    nonisolated(unsafe) var errData = Data()
    let errReader = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
    errReader.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !errReader.isFinished { usleep(1000) }
    return CommandResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
}

/// Runs a program that may leave a daemon behind (`tmux new-session`). Foundation's
/// `Process` learns of an exit through a descriptor the child inherits, so a daemon that
/// keeps it open would leave the caller waiting forever; this spawns with every
/// descriptor above stderr closed, output discarded, and reaps the child with `waitpid`.
@discardableResult
public func runLeavingDaemon(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    // glibc 2.34 has closefrom for spawn, but Swift's Glibc module does not export it.
    typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else {
        throw Fixtures.FixtureError(description: "this C library cannot close descriptors on spawn (glibc 2.34 or newer needed)")
    }
    _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    let envp = baseEnvironment().merging(environment) { $1 }.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { (argv + envp).forEach { free($0) } }
    // The child must not inherit this process's blocked signals: a tmux server that
    // starts with SIGHUP blocked leaves its panes running after `kill-server`.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var noSignals = sigset_t(), allSignals = sigset_t()
    sigemptyset(&noSignals)
    sigfillset(&allSignals)
    posix_spawnattr_setsigmask(&attributes, &noSignals)
    posix_spawnattr_setsigdefault(&attributes, &allSignals)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
    guard spawned == 0 else {
        throw Fixtures.FixtureError(description: "could not start \(executable): \(String(cString: strerror(spawned)))")
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return (status >> 8) & 0xff
}

/// `PATH`, `HOME` and the locale, nothing that could leak a developer's WABOX_* settings.
public func baseEnvironment() -> [String: String] {
    let inherited = ProcessInfo.processInfo.environment
    var environment: [String: String] = [:]
    for key in ["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"] { environment[key] = inherited[key] }
    return environment
}

/// A long-running `wabox` process (such as `wabox serve`) whose standard error is
/// collected in a file; stopped with SIGTERM on `stop()`.
public final class BackgroundProcess: @unchecked Sendable {
    public let process = Process()
    public let logFile: URL

    public init(_ executable: String, _ arguments: [String], environment: [String: String], logFile: URL) throws {
        self.logFile = logFile
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let handle = try FileHandle(forWritingTo: logFile)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = baseEnvironment().merging(environment) { $1 }
        process.standardError = handle
        process.standardOutput = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Waits for a log line matching `pattern` and returns its first capture group.
    public func waitForLog(_ pattern: String, timeout: Double = 30) async throws -> String? {
        let regex = try NSRegularExpression(pattern: pattern)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let text = log
            if let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) {
                let range = match.numberOfRanges > 1 ? match.range(at: 1) : match.range
                return Range(range, in: text).map { String(text[$0]) }
            }
            if !process.isRunning { return nil }
            try await Task.sleep(for: .milliseconds(25))
        }
        return nil
    }

    /// Sends `signal` and waits for the process to end; returns its exit status.
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, timeout: Double = 15) async -> Int32 {
        if process.isRunning { kill(process.processIdentifier, signal) }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        return process.terminationStatus
    }
}
