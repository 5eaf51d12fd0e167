import Foundation
import PackagePlugin

/// Writes the commit the package is built from into the `BuildInfo` target (`git rev-parse
/// --short HEAD`; "unknown" without git or outside a checkout), so that `wabox --version`
/// names it, for `swift build` and `scripts/package` alike. The command's inputs are git's
/// HEAD and the files the branch's commit is kept in, so it runs again after a commit or a
/// checkout, and not otherwise.
@main
struct BuildCommit: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let package = context.package.directoryURL
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("Commit.swift")
        return [.buildCommand(displayName: "wabox: the commit this build is from", executable: URL(fileURLWithPath: "/bin/sh"),
                              arguments: [package.appendingPathComponent("Plugins/BuildCommit/commit.sh").path, package.path, output.path],
                              inputFiles: [package.appendingPathComponent("Plugins/BuildCommit/commit.sh")] + Self.gitFiles(of: package),
                              outputFiles: [output])]
    }

    /// HEAD, the branch's ref and packed-refs of the checkout at `package` (a worktree's
    /// `.git` file leads to them), those that exist.
    static func gitFiles(of package: URL) -> [URL] {
        let dotGit = package.appendingPathComponent(".git")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dotGit.path, isDirectory: &isDirectory) else { return [] }
        var gitDirectory = dotGit
        if !isDirectory.boolValue {
            guard let text = try? String(contentsOf: dotGit, encoding: .utf8), text.hasPrefix("gitdir: ") else { return [] }
            let path = text.dropFirst("gitdir: ".count).trimmingCharacters(in: .whitespacesAndNewlines)
            gitDirectory = path.hasPrefix("/") ? URL(fileURLWithPath: path) : package.appendingPathComponent(path)
        }
        var common = gitDirectory
        if let text = try? String(contentsOf: gitDirectory.appendingPathComponent("commondir"), encoding: .utf8) {
            let path = text.trimmingCharacters(in: .whitespacesAndNewlines)
            common = path.hasPrefix("/") ? URL(fileURLWithPath: path) : gitDirectory.appendingPathComponent(path)
        }
        let head = gitDirectory.appendingPathComponent("HEAD")
        var files = [head, common.appendingPathComponent("packed-refs")]
        if let text = try? String(contentsOf: head, encoding: .utf8), text.hasPrefix("ref: ") {
            files.append(common.appendingPathComponent(text.dropFirst("ref: ".count).trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        return files.filter { FileManager.default.fileExists(atPath: $0.path) }
    }
}
