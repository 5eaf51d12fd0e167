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
        FileManager.default.createFile(atPath: logFile.path, contents: nil)
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
