import Foundation
import Testing
@testable import BPFLoader

/// Uprobes: the function is resolved through the victim's symbol tables to a file offset, and
/// the counter proves the probe fired once per call, exactly.
extension AttachTests {
    @Test(arguments: [Victim.Build.pie, .fixedAddress, .sharedObject])
    func uprobeAndUretprobeCountEveryCall(_ build: Victim.Build) throws {
        let victim = try Victim(build)
        defer { victim.remove() }
        let binary = victim.library ?? victim.executable
        let obj = try object()
        let entry = try obj.program(named: "on_call")!.attach(.uprobe(UprobeTarget(binary: binary, function: "bpfpipe_probed")))
        let exit = try obj.program(named: "on_return")!.attach(.uprobe(UprobeTarget(binary: binary, function: "bpfpipe_probed", isReturn: true)))
        #expect(try entry.info().type == LinkType.perfEvent)
        #expect(try count(obj, .uprobe) == 0)
        try victim.run(7)
        #expect(try count(obj, .uprobe) == 7)
        #expect(try count(obj, .uretprobe) == 7)
        _ = exit
    }

    /// `pid`: only that process fires the probe.
    @Test func uprobeWithAPidFiresForThatProcessOnly() throws {
        let victim = try Victim(.pie)
        defer { victim.remove() }
        let obj = try object()
        let (pid, go) = try victim.start(4)
        var finished = false
        defer { if !finished { _ = try? go() } }
        let mine = try obj.program(named: "on_call")!.attach(.uprobe(UprobeTarget(binary: victim.executable, function: "bpfpipe_probed", pid: pid)))
        // The same function, for another process (this one, which never calls it).
        let other = try obj.program(named: "on_return")!.attach(.uprobe(UprobeTarget(binary: victim.executable, function: "bpfpipe_probed", pid: getpid(), isReturn: true)))
        #expect(mine.target?.description == "uprobe \(victim.executable):bpfpipe_probed (pid \(pid))")
        finished = true
        #expect(try go() == 0)
        #expect(try count(obj, .uprobe) == 4)
        #expect(try count(obj, .uretprobe) == 0)
        _ = other
    }

    @Test func uprobeAtAnOffsetWithoutAFunction() throws {
        let victim = try Victim(.pie)
        defer { victim.remove() }
        let offset = try UprobeSymbols.fileOffset(of: "bpfpipe_probed", in: victim.executable).get()
        let obj = try object()
        let target = LinkTarget.uprobe(UprobeTarget(binary: victim.executable, offset: offset))
        #expect(target.description == "uprobe \(victim.executable):0x\(String(offset, radix: 16))")
        let link = try obj.program(named: "on_call")!.attach(target)
        try victim.run(3)
        #expect(try count(obj, .uprobe) == 3)
        _ = link
    }

    /// The resolver agrees with binutils: `nm` gives the address, `readelf -l` the segment.
    @Test func symbolFileOffsetMatchesTheSegmentMapping() throws {
        let victim = try Victim(.pie)
        defer { victim.remove() }
        let nm = try runBounded("/usr/bin/nm", [victim.executable])
        let line = try #require(nm.stdout.split(separator: "\n").first { $0.hasSuffix(" bpfpipe_probed") })
        let address = try #require(UInt64(line.split(separator: " ")[0], radix: 16))
        // In a PIE built by clang the code segment's file offset equals its address; the
        // resolver must land inside the file and on the function's bytes.
        let offset = try UprobeSymbols.fileOffset(of: "bpfpipe_probed", in: victim.executable).get()
        let readelf = try runBounded("/usr/bin/readelf", ["-lW", victim.executable])
        let loads = readelf.stdout.split(separator: "\n").filter { $0.contains("LOAD") }.map { $0.split(separator: " ", omittingEmptySubsequences: true) }
        let segment = try #require(loads.first { fields in
            let vaddr = UInt64(fields[2].dropFirst(2), radix: 16)!, filesz = UInt64(fields[4].dropFirst(2), radix: 16)!
            return address >= vaddr && address < vaddr + filesz
        })
        let expected = address - UInt64(segment[2].dropFirst(2), radix: 16)! + UInt64(segment[1].dropFirst(2), radix: 16)!
        #expect(offset == expected)
    }

    @Test func missingBinaryIsAClearError() throws {
        let obj = try object()
        let e = #expect(throws: LoaderError.self) {
            try obj.program(named: "on_call")!.attach(.uprobe(UprobeTarget(binary: "/nonexistent/victim", function: "f1")))
        }
        #expect(e?.step == .attach)
        #expect(e?.file == obj.path)
        #expect(e?.location == "program 'on_call' instance 0")
        #expect(e?.message == "cannot attach to uprobe /nonexistent/victim:f1: cannot open binary /nonexistent/victim")
        #expect(e?.errno == .noSuchFile)
    }

    @Test func missingFunctionIsAClearError() throws {
        let obj = try object()
        let e = #expect(throws: LoaderError.self) {
            try obj.program(named: "on_return")!.attach(.uprobe(UprobeTarget(binary: "/usr/bin/true", function: "no_such_function_here", isReturn: true)))
        }
        #expect(e?.step == .attach)
        #expect(e?.location == "program 'on_return' instance 0")
        #expect(e?.message == "cannot attach to uretprobe /usr/bin/true:no_such_function_here: function 'no_such_function_here' not found in /usr/bin/true (.symtab and .dynsym)")
    }
}
