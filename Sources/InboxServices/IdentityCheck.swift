import Foundation
import InboxStore

extension Diagnosis {
    /// Which identity this session acts under, and who can write the database without
    /// going through wabox: against them the audit trail is only as good as the file's
    /// permissions.
    public static func checkIdentity(databasePath path: String, displayName: String?,
                                     account: String = InboxDatabase.sessionAccount(), _ report: inout DoctorReport) {
        let identity = AgentIdentity(account: account, displayName: displayName)
        let shown = identity.label == account ? "" : ", shown to the others as \(identity.label)"
        report.pass("identity", """
            this session acts as account \(account) (its login)\(shown): every reply, note, claim and label is \
            recorded under it; --agent, WABOX_AGENT and agent only set the name shown beside it
            """)

        let folder = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        var writable: [(path: String, info: stat)] = []
        for candidate in [folder, path] {
            var info = stat()
            if stat(candidate, &info) == 0 { writable.append((candidate, info)) }
        }
        guard !writable.isEmpty else { return }
        let exposure = TrailExposure(writable, uid: getuid())
        let trail = "the audit trail is only as good as these permissions (root can always write it)"
        if let everyone = exposure.everyone {
            report.fail("audit trail", """
                every account on this machine can write \(everyone) directly, and so rewrite the inbox and the audit \
                trail with sqlite3: run `chmod o-w \(everyone)`
                """)
        } else if !exposure.others.isEmpty {
            report.warn("audit trail", """
                \(exposure.others.joined(separator: " and ")) can write the database directly, not only through wabox, \
                and could change or delete entries with sqlite3 (a shared inbox needs its group to write it): \(trail)
                """)
        } else {
            report.pass("audit trail", "only account \(account) can write \(folder) and the database: \(trail)")
        }
    }
}

/// Who besides this account can write the database's folder or file directly.
struct TrailExposure {
    /// A path every account may write, if any.
    var everyone: String?
    /// `group wabox (alice, bob)`, `account carol (the owner)`.
    var others: [String] = []

    init(_ paths: [(path: String, info: stat)], uid: uid_t) {
        for (path, info) in paths {
            if info.st_mode & S_IWOTH != 0 { everyone = everyone ?? path }
            if info.st_mode & S_IWGRP != 0 {
                let group = Self.group(info.st_gid)
                if !others.contains(group) { others.append(group) }
            }
            if info.st_uid != uid, info.st_mode & S_IWUSR != 0 {
                let owner = "account \(Self.account(info.st_uid)) (the owner of \(path))"
                if !others.contains(owner) { others.append(owner) }
            }
        }
    }

    /// `group wabox (alice, bob)`: the group and its members, those the group database
    /// lists and those whose primary group it is.
    static func group(_ gid: gid_t) -> String {
        guard let entry = getgrgid(gid) else { return "group \(gid)" }
        let name = String(cString: entry.pointee.gr_name)
        var members: [String] = []
        var member = entry.pointee.gr_mem
        while let pointer = member?.pointee {
            members.append(String(cString: pointer))
            member = member?.advanced(by: 1)
        }
        setpwent()
        while let user = getpwent() {
            let login = String(cString: user.pointee.pw_name)
            if user.pointee.pw_gid == gid, !members.contains(login) { members.append(login) }
        }
        endpwent()
        return "group \(name)" + (members.isEmpty ? "" : " (\(members.joined(separator: ", ")))")
    }

    static func account(_ uid: uid_t) -> String {
        getpwuid(uid).map { String(cString: $0.pointee.pw_name) } ?? "uid \(uid)"
    }
}
