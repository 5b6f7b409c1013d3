import Foundation
import Testing
@testable import BPFLoader

/// The CLI as a user runs it. These need no kernel: `inspect` and usage errors.
@Suite struct CLITests {
    @Test func inspectListsProgramsWithTypeAndSizeMapsAndGlobalVariables() throws {
        let path = try Fixtures.object("features")
        let spec = try ObjectSpec.open(path: path)
        let result = try runBPFPipe(["inspect", path])
        #expect(result.status == 0, "\(result.stderr)")
        let out = result.stdout
        #expect(spec.programs.count == 5)
        for p in spec.programs {
            #expect(out.contains("  \(p.name): section 'socket', type socket_filter, \(p.instructionCount) instructions\n"), "\(p.name)")
        }
        #expect(out.contains("  legacy_counts: array, key 4 B, value 8 B, max_entries 4\n"))
        #expect(out.contains("  btf_hash: hash, key 4 B, value 8 B, max_entries 16\n"))
        for variable in ["data_var: int", "ro_var: const volatile int", "bss_var: int", "custom_data: int", "custom_ro: const int"] {
            #expect(out.contains("+0 \(variable) (4 bytes)"), "\(variable)")
        }
        #expect(out.contains("  .rodata (map features.rodata, 4 bytes, read-only)"))
    }

    @Test func inspectJSONParsesAndHasEveryProgram() throws {
        let path = try Fixtures.object("features")
        let result = try runBPFPipe(["inspect", path, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(json["object"] as? String == path)
        let programs = try #require(json["programs"] as? [[String: Any]])
        #expect(Set(programs.compactMap { $0["name"] as? String }) == ["test_legacy", "test_btf_map", "test_globals", "test_subprogs", "test_callback"])
        #expect(programs.allSatisfy { $0["type"] as? String == "socket_filter" && ($0["instructions"] as? Int ?? 0) > 0 })
        let maps = try #require(json["maps"] as? [[String: Any]])
        #expect(Set(maps.compactMap { $0["name"] as? String }).isSuperset(of: ["legacy_counts", "btf_hash", ".data.custom", ".rodata.custom"]))
        let variables = try #require(json["variables"] as? [[String: Any]])
        #expect(variables.count == 5)
    }

    @Test func inspectOfAMissingFileIsInvalidInput() throws {
        let result = try runBPFPipe(["inspect", "/nonexistent/x.o"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("/nonexistent/x.o: open: cannot open"))
    }

    @Test func usageErrorsExitTwo() throws {
        let path = try Fixtures.object("features")
        let missingPin = try runBPFPipe(["load", path])
        #expect(missingPin.status == 2)
        #expect(missingPin.stderr.contains("--pin"))
        let badType = try runBPFPipe(["load", path, "--pin", "/sys/fs/bpf/bpfpipe-never", "--type", "test_legacy"])
        #expect(badType.status == 2)
        #expect(badType.stderr.contains("--type expects PROGRAM=TYPE"))
        let unknownType = try runBPFPipe(["load", path, "--pin", "/sys/fs/bpf/bpfpipe-never", "--type", "test_legacy=nonsense"])
        #expect(unknownType.status == 2)
        #expect(unknownType.stderr.contains("unknown program type 'nonsense'"))
        let unknownProgram = try runBPFPipe(["load", path, "--pin", "/sys/fs/bpf/bpfpipe-never", "--type", "nosuch=socket"])
        #expect(unknownProgram.status == 2)
        #expect(unknownProgram.stderr.contains("the object has no program 'nosuch'"))
        let unknownCommand = try runBPFPipe(["frobnicate"])
        #expect(unknownCommand.status == 2)
        #expect(!FileManager.default.fileExists(atPath: "/sys/fs/bpf/bpfpipe-never"))
    }
}

extension CLITests {
    /// `bpfpipe load`: pins into bpffs, and what a user then sees with bpftool.
    @Suite(.enabled(if: KernelGate.enabled, "needs bpf() as root"), .kernel)
    struct Load {
        static let programs = ["test_btf_map", "test_callback", "test_globals", "test_legacy", "test_subprogs"]

        /// The pins `load` must make for the features object: '.' in map names becomes '_'.
        func expectedLayout(_ path: String) throws -> [String] {
            let spec = try ObjectSpec.open(path: path)
            let maps = spec.maps.map { "maps/" + $0.name.replacingOccurrences(of: ".", with: "_") }
            return (["maps", "progs"] + maps + Self.programs.map { "progs/" + $0 }).sorted()
        }

        @Test func loadPinsProgramsAndMapsUnderTheDocumentedLayout() throws {
            let path = try Fixtures.object("features")
            let pins = try PinDirectory()
            let result = try runBPFPipe(["load", path, "--pin", pins.path, "--pin-maps-by-name", pins.path + "/by-name"])
            #expect(result.status == 0, "\(result.stderr)")
            let layout = try expectedLayout(path)
            #expect(pins.contents() == layout)
            #expect(layout.contains("maps/_data_custom") && layout.contains("maps/_rodata_custom") && layout.contains("maps/legacy_counts"))
            for p in Self.programs {
                #expect(result.stdout.contains("pinned program \(p) (id "), "\(p)")
            }
        }

        @Test func loadJSONListsPinnedPathsAndIdsAndThePinnedProgramRuns() throws {
            let path = try Fixtures.object("features")
            let pins = try PinDirectory()
            let result = try runBPFPipe(["load", path, "--pin", pins.path, "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let pinned = try #require(json["pinned"] as? [[String: Any]])
            let paths = pinned.compactMap { $0["path"] as? String }
            #expect(paths.map { String($0.dropFirst(pins.path.count + 1)) }.sorted() == (try expectedLayout(path)).filter { $0.contains("/") })
            #expect(pinned.allSatisfy { ($0["id"] as? Int ?? 0) > 0 })
            #expect(Set(pinned.filter { $0["kind"] as? String == "program" }.compactMap { $0["name"] as? String }) == Set(Self.programs))

            // The pinned program, run by bpftool: 7 + 5 + 3 + 11 + 13 from its global data maps.
            let packet = "\(Fixtures.outputDirectory)/packet-\(UUID().uuidString.prefix(8))"
            try Data(testPacket).write(to: URL(fileURLWithPath: packet))
            let run = try runProcess("/usr/sbin/bpftool", ["prog", "run", "pinned", "\(pins.path)/progs/test_globals", "data_in", packet])
            #expect(run.status == 0, "\(run.stderr)")
            #expect((run.stdout + run.stderr).contains("Return value: 39"), "\(run.stdout)\(run.stderr)")
        }

        @Test func pinningOutsideBPFFSIsAnEnvironmentErrorAndPinsNothing() throws {
            let path = try Fixtures.object("features")
            let dir = "\(NSTemporaryDirectory())bpfpipe-not-bpffs-\(UUID().uuidString.prefix(8))"
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let result = try runBPFPipe(["load", path, "--pin", dir])
            #expect(result.status == 3, "\(result.stderr)")
            #expect(result.stderr.contains("bpffs"))
            #expect(result.stderr.contains(dir))
            #expect(!FileManager.default.fileExists(atPath: dir))
        }

        @Test func secondLoadIntoTheSameDirectoryFailsAndLeavesTheFirstIntact() throws {
            let path = try Fixtures.object("features")
            let pins = try PinDirectory()
            let first = try runBPFPipe(["load", path, "--pin", pins.path, "--json"])
            #expect(first.status == 0, "\(first.stderr)")
            let before = pins.contents()
            let firstIDs = try pinnedIDs(first.stdout)

            let second = try runBPFPipe(["load", path, "--pin", pins.path])
            #expect(second.status == 1, "\(second.stderr)")
            #expect(second.stderr.contains("\(path): pin: "))
            #expect(second.stderr.contains("already pinned"))
            #expect(pins.contents() == before)
            // The pins are still the first load's objects, not replacements.
            let run = try runProcess("/usr/sbin/bpftool", ["prog", "show", "pinned", "\(pins.path)/progs/test_legacy", "--json"])
            let shown = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            #expect((shown["id"] as? Int).map(UInt32.init) == firstIDs["\(pins.path)/progs/test_legacy"])
        }

        func pinnedIDs(_ json: String) throws -> [String: UInt32] {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            let pinned = try #require(object["pinned"] as? [[String: Any]])
            return Dictionary(uniqueKeysWithValues: pinned.compactMap { p in
                (p["path"] as? String).flatMap { path in (p["id"] as? Int).map { (path, UInt32($0)) } }
            })
        }
    }
}
