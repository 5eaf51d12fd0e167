import Foundation
import InboxCore

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
///
/// Spawned through `ProcessSpawn`, not Foundation's `Process`, which crashes now and then
/// the more descriptors are open (see there) — and a whole suite in parallel holds well
/// over a thousand.
public func runCommand(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                       stdin: Data? = nil) throws -> CommandResult {
    try checkExecutable(executable)
    _ = ignoreBrokenPipes
    var input: [Int32] = [-1, -1], output: [Int32] = [-1, -1], errors: [Int32] = [-1, -1]
    guard closeOnExecPipe(&input), closeOnExecPipe(&output), closeOnExecPipe(&errors) else {
        let reason = String(cString: strerror(errno))
        (input + output + errors).filter { $0 >= 0 }.forEach { close($0) }
        throw Fixtures.FixtureError(description: "cannot make pipes to run \(executable): \(reason)")
    }
    let pid: pid_t
    do {
        pid = try ProcessSpawn.start(executable, arguments, environment: baseEnvironment().merging(environment) { $1 },
                                     standardInput: .descriptor(input[0]), standardOutput: .descriptor(output[1]),
                                     standardError: .descriptor(errors[1]))
    } catch {
        (input + output + errors).forEach { close($0) }
        throw Fixtures.FixtureError(description: error.description)
    }
    close(input[0])
    close(output[1])
    close(errors[1])
    // The input is written by a thread of its own while both outputs are read here, so
    // that neither side can fill a pipe and wait for the other.
    let writer = Thread { [input] in
        if let stdin {
            stdin.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = write(input[1], bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 { if errno == EINTR { continue } else { break } }
                    offset += written
                }
            }
        }
        close(input[1])
    }
    writer.start()
    let (outData, errData) = readToEnd(output[0], errors[0])
    close(output[0])
    close(errors[0])
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    while !writer.isFinished { usleep(1000) }
    // As Foundation's `terminationStatus`: the exit code, or the signal that ended it.
    let signal = status & 0x7f
    return CommandResult(status: signal == 0 ? (status >> 8) & 0xff : signal,
                         stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
}

/// `pipe2(…, O_CLOEXEC)`: no other thread's child can inherit the pipe between its making
/// and the flag (Swift's Glibc module does not export pipe2, glibc has it).
private func closeOnExecPipe(_ descriptors: inout [Int32]) -> Bool {
    typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    guard let symbol = dlsym(nil, "pipe2") else { return pipe(&descriptors) == 0 }
    return unsafeBitCast(symbol, to: Pipe2.self)(&descriptors, O_CLOEXEC) == 0
}

/// A child that exits without reading its input must not kill the test process with SIGPIPE.
private let ignoreBrokenPipes: Void = { signal(SIGPIPE, SIG_IGN) }()

/// Everything two descriptors give until both end.
private func readToEnd(_ first: Int32, _ second: Int32) -> (Data, Data) {
    var data = [Data(), Data()]
    var descriptors = [pollfd(fd: first, events: Int16(POLLIN), revents: 0), pollfd(fd: second, events: Int16(POLLIN), revents: 0)]
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while descriptors.contains(where: { $0.fd >= 0 }) {
        if poll(&descriptors, 2, -1) < 0 {
            if errno == EINTR { continue }
            break
        }
        for index in 0..<2 where descriptors[index].fd >= 0 && descriptors[index].revents != 0 {
            let count = buffer.withUnsafeMutableBytes { read(descriptors[index].fd, $0.baseAddress, $0.count) }
            if count > 0 {
                data[index].append(contentsOf: buffer[0..<count])
            } else if count == 0 || errno != EINTR {
                descriptors[index].fd = -1
            }
        }
    }
    return (data[0], data[1])
}

/// Runs a program that may leave a daemon behind (`tmux new-session`). Foundation's
/// `Process` learns of an exit through a descriptor the child inherits, so a daemon that
/// keeps it open would leave the caller waiting forever; this spawns with every
/// descriptor above stderr closed, output discarded, and reaps the child with `waitpid`.
@discardableResult
public func runLeavingDaemon(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Int32 {
    try checkExecutable(executable)
    let pid: pid_t
    do {
        pid = try ProcessSpawn.start(executable, arguments, environment: baseEnvironment().merging(environment) { $1 })
    } catch {
        throw Fixtures.FixtureError(description: error.description)
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

// MARK: - Processes that never outlive their test

/// A long-running process (such as `wabox serve`) started by a `ProcessScope`, in a process
/// group of its own, its standard output and error collected in a file.
///
/// - Important: Only a scope starts one (`scope.start`), so that it is stopped on every
///   exit path of the test, and by the watchdog when the test process itself dies.
public final class BackgroundProcess: @unchecked Sendable {
    public let pid: pid_t
    public let logFile: URL
    private let lock = NSLock()
    private var exitStatus: Int32?

    init(_ executable: String, _ arguments: [String], environment: [String: String], logFile: URL) throws {
        self.logFile = logFile
        pid = try spawnInOwnGroup(executable, arguments, environment: baseEnvironment().merging(environment) { $1 },
                                  output: logFile.path)
        Watchdog.shared.watch(group: pid)
    }

    public var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Whether it still runs; reaps it once it has ended.
    public var isRunning: Bool { lock.withLock { reap(blocking: false) } == nil }

    /// Its exit code once ended (128 + the signal when a signal ended it), else nil.
    public var terminationStatus: Int32? { lock.withLock { reap(blocking: false) } }

    /// Must be called with `lock` held.
    private func reap(blocking: Bool) -> Int32? {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &status, blocking ? 0 : WNOHANG) } while result < 0 && errno == EINTR
        guard result == pid else { return nil }
        let signal = status & 0x7f
        exitStatus = signal == 0 ? (status >> 8) & 0xff : 128 + signal
        Watchdog.shared.forget(group: pid)
        return exitStatus
    }

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
            if !isRunning { return nil }
            try await Task.sleep(for: .milliseconds(25))
        }
        return nil
    }

    /// Sends `signal`, without waiting.
    public func send(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Sends `signal` and waits for the process to end, then kills what is left of its
    /// group; returns its exit status (128 + the signal when a signal ended it).
    @discardableResult
    public func stop(signal: Int32 = SIGTERM, timeout: Double = 15) async -> Int32 {
        send(signal)
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning, Date() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if isRunning { kill(pid, SIGKILL) }
        let status = lock.withLock { reap(blocking: true) } ?? -1
        // Whatever it started in its group (a shell's children) goes with it.
        kill(-pid, SIGKILL)
        return status
    }
}

/// A tmux server on a private socket (`tmux -L name`), started by a `ProcessScope` and
/// killed by it, together with every pane's process group.
public final class TmuxServer: @unchecked Sendable {
    public let socket: String
    private let lock = NSLock()
    private var panes: [pid_t] = []
    private var serverPID: pid_t?

    init(socket: String) throws {
        self.socket = socket
        _ = try requireTool("/usr/bin/tmux", package: "tmux")
        Watchdog.shared.watch(tmuxSocket: socket)
    }

    /// Runs a tmux command on this server and returns what it printed.
    @discardableResult
    public func run(_ arguments: [String]) throws -> CommandResult {
        try runCommand("/usr/bin/tmux", ["-L", socket] + arguments)
    }

    /// Starts a detached session `name` running `command` in a terminal of that size.
    public func newSession(_ name: String, width: Int, height: Int, command: String) throws {
        let status = try runLeavingDaemon("/usr/bin/tmux", ["-L", socket, "new-session", "-d", "-s", name,
                                                             "-x", String(width), "-y", String(height), command])
        guard status == 0 else { throw Fixtures.FixtureError(description: "tmux new-session -s \(name) failed (\(status))") }
        // Each pane runs in a session, and so a process group, of its own: remember them, so
        // that what runs inside cannot outlive the server.
        let listed = try run(["list-panes", "-s", "-t", name, "-F", "#{pane_pid}"]).stdout
        let server = try run(["display-message", "-p", "-t", name, "#{pid}"]).stdout
        lock.withLock {
            for pane in listed.split(separator: "\n").compactMap({ pid_t($0) }) where !panes.contains(pane) {
                panes.append(pane)
                Watchdog.shared.watch(group: pane)
            }
            serverPID = serverPID ?? pid_t(server.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// The process ids of the server and of every pane it started.
    public var processes: [pid_t] { lock.withLock { (serverPID.map { [$0] } ?? []) + panes } }

    /// Kills the server (its panes get SIGHUP), then what is left of the panes' groups, and
    /// waits until all of them are gone.
    func kill() async {
        _ = try? runLeavingDaemon("/usr/bin/tmux", ["-L", socket, "kill-server"])
        let (server, groups) = lock.withLock { (serverPID, panes) }
        let gone = (try? await waitUntil(timeout: 5) { groups.allSatisfy { !groupIsAlive($0) } }) ?? false
        if !gone { for group in groups { Glibc.kill(-group, SIGKILL) } }
        if let server, processIsAlive(server) { Glibc.kill(server, SIGKILL) }
        _ = try? await waitUntil(timeout: 5) { (server.map { !processIsAlive($0) } ?? true) && groups.allSatisfy { !groupIsAlive($0) } }
        for group in groups { Watchdog.shared.forget(group: group) }
        Watchdog.shared.forget(tmuxSocket: socket)
        try? FileManager.default.removeItem(atPath: "/tmp/tmux-\(getuid())/\(socket)")
    }
}

/// What a test starts, stopped when the test leaves `withProcesses` by any path.
public final class ProcessScope: @unchecked Sendable {
    private let lock = NSLock()
    private var processes: [BackgroundProcess] = []
    private var tmuxServers: [TmuxServer] = []
    private var sweeps: [String] = []

    /// Starts a long-running program in a process group of its own; `environment` is added
    /// to `baseEnvironment()`.
    public func start(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                      logFile: URL) throws -> BackgroundProcess {
        let process = try BackgroundProcess(executable, arguments, environment: environment, logFile: logFile)
        lock.withLock { processes.append(process) }
        return process
    }

    /// The tmux server on the private socket `socket` (a name only this test uses), made
    /// the first time it is asked for.
    public func tmux(socket: String) throws -> TmuxServer {
        if let known = lock.withLock({ tmuxServers.first { $0.socket == socket } }) { return known }
        let server = try TmuxServer(socket: socket)
        lock.withLock { tmuxServers.append(server) }
        return server
    }

    /// Also stops, at the end, any process of this user whose command line contains
    /// `marker`, a string only this test uses (its temporary folder): for processes that
    /// leave every group the scope knows, such as a shell an sshd session started.
    public func alsoStopProcesses(mentioning marker: String) {
        lock.withLock { sweeps.append(marker) }
    }

    /// Stops everything, newest first: tmux servers, then processes (SIGTERM, then SIGKILL
    /// after a few seconds), then the sweeps.
    public func stopAll() async {
        let (servers, started, markers) = lock.withLock {
            defer { tmuxServers = []; processes = []; sweeps = [] }
            return (tmuxServers, processes, sweeps)
        }
        for server in servers.reversed() { await server.kill() }
        for process in started.reversed() { await process.stop(timeout: 5) }
        for marker in markers {
            let strays = strays(mentioning: marker)
            for pid in strays { kill(pid, SIGTERM) }
            if !((try? await waitUntil(timeout: 5) { strays.allSatisfy { !processIsAlive($0) } }) ?? false) {
                for pid in strays { kill(pid, SIGKILL) }
            }
        }
    }

    private func strays(mentioning marker: String) -> [pid_t] {
        let me = getpid()
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
            guard let pid = pid_t(entry), pid != me,
                  let owner = try? FileManager.default.attributesOfItem(atPath: "/proc/\(entry)")[.ownerAccountID] as? NSNumber,
                  owner.uint32Value == getuid(),
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            return String(decoding: data, as: UTF8.self).contains(marker) ? pid : nil
        }
    }
}

/// Runs `body` with a fresh scope and stops everything it started when `body` returns or
/// throws (a failing `#require` included); the watchdog covers the test process's death.
public func withProcesses<Result>(_ body: (ProcessScope) async throws -> Result) async throws -> Result {
    let scope = ProcessScope()
    do {
        let result = try await body(scope)
        await scope.stopAll()
        return result
    } catch {
        await scope.stopAll()
        throw error
    }
}

/// Whether `pid` runs (a zombie counts as gone).
public func processIsAlive(_ pid: pid_t) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first != "Z"
}

/// Whether any process of group `group` runs.
public func groupIsAlive(_ group: pid_t) -> Bool {
    guard kill(-group, 0) == 0 else { return false }
    // Zombies still answer kill(2); look for a live member.
    return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).contains { entry in
        guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 3 && fields[0] != "Z" && pid_t(fields[3]) == group && pid > 0
    }
}

/// The programs the tests run and the Debian package of each; scripts/debian-packages
/// (what scripts/install-and-run and CI install) must name every one of these packages.
public let testTools: [String: String] = [
    "/usr/bin/tmux": "tmux", "/usr/bin/curl": "curl", "/usr/bin/openssl": "openssl",
    "/usr/sbin/sshd": "openssh-server", "/usr/bin/ssh": "openssh-client", "/usr/bin/ssh-keygen": "openssh-client",
    "/usr/sbin/useradd": "passwd", "/usr/sbin/userdel": "passwd", "/usr/sbin/groupadd": "passwd",
    "/usr/sbin/groupdel": "passwd", "/usr/sbin/runuser": "util-linux", "/usr/bin/setpriv": "util-linux",
    "/usr/bin/git": "git",
].merging(PostgresServer.tools) { $1 }

/// Throws, for a missing program, an error naming the package that installs it (when known)
/// instead of a bare "No such file".
func checkExecutable(_ path: String) throws {
    guard !FileManager.default.isExecutableFile(atPath: path) else { return }
    if let package = testTools[path] { try requireTool(path, package: package) }
    throw Fixtures.FixtureError(description: "\(path) is missing or not executable")
}

/// The path of a tool a test needs, or an error naming the Debian package that installs it.
@discardableResult
public func requireTool(_ path: String, package: String) throws -> String {
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw Fixtures.FixtureError(description: """
            \(path) is missing: install the Debian package \(package) (sudo apt-get install \(package)), \
            or run scripts/install-and-run, which installs everything the tests need
            """)
    }
    return path
}

/// Spawns `executable` as the leader of a new process group, stdin from /dev/null, stdout
/// and stderr appended to `output`, no descriptor above stderr inherited, default signals.
func spawnInOwnGroup(_ executable: String, _ arguments: [String], environment: [String: String],
                     output: String) throws -> pid_t {
    try checkExecutable(executable)
    do {
        return try ProcessSpawn.start(executable, arguments, environment: environment,
                                      standardOutput: .appending(toFile: output), standardError: .standardOutput,
                                      newProcessGroup: true)
    } catch {
        throw Fixtures.FixtureError(description: error.description)
    }
}

/// One small shell per test process that outlives it by a moment: it reads, from a socket
/// only the test process holds, which process groups and tmux sockets are live, and when
/// it ends (the test process exited or was killed, even by SIGKILL) it kills them.
///
/// Chosen over PR_SET_PDEATHSIG, which fires when the *thread* that spawned the child ends
/// (the cooperative pool retires idle threads) and reaches only the direct child, not a
/// tmux server that daemonised; and over an atexit or signal handler, which SIGKILL and a
/// crash skip.
final class Watchdog: @unchecked Sendable {
    static let shared = Watchdog()

    private static let script = """
        trap '' INT TERM HUP QUIT
        groups=' ' sockets=' '
        while read -r op arg; do
            case "$op" in
                +g) groups="$groups$arg " ;;
                -g) groups="${groups%% $arg *} ${groups#* $arg }" ;;
                +t) sockets="$sockets$arg " ;;
                -t) sockets="${sockets%% $arg *} ${sockets#* $arg }" ;;
            esac
        done
        for socket in $sockets; do
            tmux -L "$socket" kill-server 2>/dev/null
            rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$socket"
        done
        for group in $groups; do kill -s KILL -- "-$group" 2>/dev/null; done
        exit 0
        """

    private let lock = NSLock()
    private var socket: Int32 = -1

    private init() {}

    func watch(group: pid_t) { send("+g \(group)") }
    func forget(group: pid_t) { send("-g \(group)") }
    func watch(tmuxSocket: String) { send("+t \(tmuxSocket)") }
    func forget(tmuxSocket: String) { send("-t \(tmuxSocket)") }

    private func send(_ line: String) {
        lock.withLock {
            if socket < 0 { socket = start() }
            guard socket >= 0 else { return }
            // A socket, not a pipe: MSG_NOSIGNAL keeps a dead watchdog from raising SIGPIPE here.
            let bytes = Array((line + "\n").utf8)
            _ = bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
    }

    /// Starts the shell with one end of a socket pair as its standard input; returns the other.
    private func start() -> Int32 {
        var ends: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else { return -1 }
        // A group of its own: a Ctrl-C at the terminal reaches the tests, not it.
        guard (try? ProcessSpawn.start("/bin/sh", ["-c", Self.script], environment: baseEnvironment(),
                                       standardInput: .descriptor(ends[0]), newProcessGroup: true)) != nil else {
            close(ends[0])
            close(ends[1])
            return -1
        }
        close(ends[0])
        return ends[1]
    }
}
