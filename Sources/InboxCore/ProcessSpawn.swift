import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts a program with `posix_spawn`: every program wabox starts (the operator's
/// `open_command` and `transcribe_command`, and the tests' commands and servers).
///
/// Not Foundation's `Process`: on Linux, `Process.run()` in Swift 6.3 reads `/proc/self/fd`
/// past the end of glibc's buffer and crashes the process now and then
/// (swift-corelibs-foundation PR #5472), the likelier the more descriptors are open.
///
/// - Important: The child inherits no descriptor above standard error (`closefrom`), starts
///   with no signal blocked and every signal at its default, and gets no shell: the
///   arguments are passed as they are.
public enum ProcessSpawn {
    /// Where one of the child's standard streams goes.
    public enum Stream: Sendable, Equatable {
        /// `/dev/null`.
        case null
        /// A descriptor of this process (a pipe's end), duplicated onto the stream.
        case descriptor(Int32)
        /// A file, created if missing (mode 0600) and appended to.
        case appending(toFile: String)
        /// Standard error only: wherever standard output goes.
        case standardOutput
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// Starts `executable` (a path) with `arguments` and exactly `environment`; returns its
    /// pid, for the caller to reap with `waitpid`. `newProcessGroup` makes it the leader of
    /// a group of its own, so that `kill(-pid, …)` reaches its children too and a Ctrl-C at
    /// the terminal does not.
    public static func start(_ executable: String, _ arguments: [String], environment: [String: String],
                             standardInput: Stream = .null, standardOutput: Stream = .null,
                             standardError: Stream = .null, newProcessGroup: Bool = false) throws(Failure) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, stream) in [(Int32(0), standardInput), (1, standardOutput), (2, standardError)] {
            switch stream {
            case .null:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case .descriptor(let descriptor):
                posix_spawn_file_actions_adddup2(&actions, descriptor, target)
            case .appending(let path):
                posix_spawn_file_actions_addopen(&actions, target, path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
            case .standardOutput:
                posix_spawn_file_actions_adddup2(&actions, 1, target)
            }
        }
        closeDescriptorsAbove2(&actions)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if newProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard spawned == 0 else {
            throw Failure(description: "could not start \(executable): \(String(cString: strerror(spawned)))")
        }
        return pid
    }

    /// The exit status `waitpid` gave, as Foundation's `terminationStatus` reads it: the
    /// exit code, or the number of the signal that ended the program.
    public static func terminationStatus(_ raw: Int32) -> Int32 {
        let signal = raw & 0x7f
        return signal == 0 ? (raw >> 8) & 0xff : signal
    }

    /// Waits for `pid` to end, through interruptions; returns the raw status.
    public static func waitForExit(_ pid: pid_t) -> Int32 {
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        return raw
    }

    /// glibc 2.34 and newer close every descriptor above stderr in the child
    /// (`posix_spawn_file_actions_addclosefrom_np`), but Swift's Glibc module does not
    /// export it. Without it (an older C library) the child still inherits no pipe wabox
    /// made, those being close-on-exec.
    private static func closeDescriptorsAbove2(_ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
        }
    }
}
