import Testing
@testable import BPFPipeline

/// The `attach:` key of a program: every shape the issue lists decodes to the target it names,
/// and every wrong shape is refused at its line and column.
@Suite struct AttachSpecTests {
    /// A one-object pipeline whose program `p` has the given lines (indented under it).
    static func pipeline(_ programLines: String) -> String {
        """
        version: 1
        name: lab
        objects:
          - name: o
            path: o.bpf.o
            programs:
              p:
        \(programLines.split(separator: "\n", omittingEmptySubsequences: false).map { "        " + $0 }.joined(separator: "\n"))
        """
    }

    static func decode(_ programLines: String) throws -> ProgramAttach {
        let spec = try PipelineDecoder.decode(text: pipeline(programLines), file: "/lab/pipes/lab.yaml")
        return try #require(spec.objects.first?.programs["p"]).attach
    }

    static func refused(_ programLines: String) -> PipelineError? {
        #expect(throws: PipelineError.self) { _ = try decode(programLines) }
    }

    static let m = SourceMark(file: "/lab/pipes/lab.yaml", line: 0, column: 0)
    /// The kinds decoded, without their marks.
    static func kinds(_ a: ProgramAttach) -> [AttachEntry.Kind] {
        guard case .targets(let list) = a else { return [] }
        return list.map(\.kind)
    }

    @Test func theIssueExampleDecodes() throws {
        let a = try Self.decode("""
        instances: 3
        attach:
          - uprobe: { binary: ./victim, function: f1 }
          - uprobe: { binary: ../bin/victim, function: f2, pid: 0 }
          - uretprobe: { binary: /usr/bin/true, offset: 0x1040, pid: 42 }
        """)
        #expect(Self.kinds(a) == [
            .uprobe(binary: "/lab/pipes/victim", function: "f1", offset: 0, pid: nil, isReturn: false),
            .uprobe(binary: "/lab/bin/victim", function: "f2", offset: 0, pid: nil, isReturn: false),
            .uprobe(binary: "/usr/bin/true", function: nil, offset: 0x1040, pid: 42, isReturn: true),
        ])
        // One entry per instance, in order.
        #expect(a.entry(forInstance: 2)?.kind == .uprobe(binary: "/usr/bin/true", function: nil, offset: 0x1040, pid: 42, isReturn: true))
        guard case .targets(let list) = a else { Issue.record("not targets"); return }
        #expect((list[0].mark.line, list[0].mark.column) == (10, 13))
    }

    @Test(arguments: [
        ("attach: { tracepoint: syscalls/sys_enter_getpid }", AttachEntry.Kind.tracepoint(category: "syscalls", name: "sys_enter_getpid")),
        ("attach: { raw-tracepoint: sched_switch }", .rawTracepoint(name: "sched_switch")),
        ("attach: { xdp: { interface: veth0, mode: native } }", .xdp(interface: "veth0", mode: .native)),
        ("attach: { xdp: { interface: veth0 } }", .xdp(interface: "veth0", mode: .auto)),
        ("attach: { tc: { interface: veth0, direction: egress } }", .tc(interface: "veth0", direction: .egress)),
        ("attach: { cgroup: { path: /sys/fs/cgroup/unified/lab } }", .cgroup(path: "/sys/fs/cgroup/unified/lab", attachType: nil)),
        ("attach: { cgroup: { path: /sys/fs/cgroup/unified/lab/, type: sock_create } }", .cgroup(path: "/sys/fs/cgroup/unified/lab", attachType: 2)),
        ("attach: { kprobe: { function: do_sys_openat2, offset: 4 } }", .kprobe(function: "do_sys_openat2", offset: 4, isReturn: false)),
        ("attach: { kretprobe: { function: do_sys_openat2 } }", .kprobe(function: "do_sys_openat2", offset: 0, isReturn: true)),
    ])
    func oneTargetForEveryInstance(_ line: String, _ kind: AttachEntry.Kind) throws {
        let a = try Self.decode("instances: 4\n" + line)
        #expect(Self.kinds(a) == [kind])
        for n in 0..<4 { #expect(a.entry(forInstance: n)?.kind == kind) }
    }

    @Test func withoutTheKeyTheSectionDecidesAndFalseNeverAttaches() throws {
        #expect(try Self.decode("instances: 2") == .fromSection)
        #expect(try Self.decode("attach: true") == .fromSection)
        #expect(try Self.decode("attach: false") == .never)
        #expect(try Self.decode("attach: false").entry(forInstance: 0) == nil)
        // A program written as `p:` with nothing under it also attaches as its section says.
        let spec = try PipelineDecoder.decode(text: Self.pipeline(""), file: "/lab/x.yaml")
        #expect(spec.objects[0].programs["p"]?.attach == .fromSection)
    }

    /// (program lines, message fragment, line, column); the program's lines start at line 8.
    static let badShapes: [(String, String, Int, Int)] = [
        ("instances: 3\nattach:\n  - tracepoint: a/b\n  - tracepoint: a/c",
         "'attach' of program 'p' lists 2 targets but the program has 3 instances", 10, 11),
        ("attach:\n  - tracepoint: a/b\n  - tracepoint: a/c",
         "'attach' of program 'p' lists 2 targets but the program has 1 instance", 9, 11),
        ("instances: 2\nattach: [ { tracepoint: a/b } ]",
         "lists 1 target but the program has 2 instances", 9, 17),
        ("attach: { tracepiont: syscalls/sys_enter_getpid }",
         "unknown attach target kind 'tracepiont'; did you mean 'tracepoint'?", 8, 19),
        ("attach: { raw_tracepoint: sched_switch }",
         "unknown attach target kind 'raw_tracepoint'; did you mean 'raw-tracepoint'?", 8, 19),
        ("attach: { fentry: x }", "unknown attach target kind 'fentry'", 8, 19),
        ("attach: { tracepoint: a/b, xdp: { interface: lo } }", "an attach target has 2 keys; it needs exactly one", 8, 17),
        ("attach: {}", "an attach target has 0 keys", 8, 17),
        ("attach: yes", "'attach' of program 'p': expected a target, a list of targets, or false", 8, 17),
        ("attach: { tracepoint: sys_enter_getpid }", "'tracepoint' must be CATEGORY/NAME, found 'sys_enter_getpid'", 8, 31),
        ("attach: { tracepoint: a/b/c }", "'tracepoint' must be CATEGORY/NAME", 8, 31),
        ("attach: { raw-tracepoint: sched/sched_switch }", "'raw-tracepoint' must be a tracepoint name without a category", 8, 35),
        ("attach: { xdp: { interface: veth0, mode: drv } }", "'mode' must be 'auto', 'native', 'generic', found 'drv'", 8, 50),
        ("attach: { xdp: { interface: veth0, mode: nativ } }", "found 'nativ'; did you mean 'native'?", 8, 50),
        ("attach: { xdp: { mode: auto } }", "missing required key 'interface' in 'xdp' target", 8, 24),
        ("attach: { xdp: { interface: a-very-long-interface-name } }", "invalid interface name 'a-very-long-interface-name'", 8, 37),
        ("attach: { tc: { interface: veth0, direction: in } }", "'direction' must be 'ingress', 'egress', found 'in'", 8, 54),
        ("attach: { tc: { interface: veth0 } }", "missing required key 'direction' in 'tc' target", 8, 23),
        ("attach: { tc: { interface: veth0, direction: ingress, mode: x } }", "unknown key 'mode' in 'tc' target", 8, 63),
        ("attach: { uprobe: { binary: ./victim } }", "'uprobe' target needs 'function', 'offset' or both", 8, 27),
        ("attach: { uretprobe: { function: f } }", "missing required key 'binary' in 'uretprobe' target", 8, 30),
        ("attach: { uprobe: { binary: ./v, offset: -8 } }", "'offset' must not be negative, found -8", 8, 50),
        ("attach: { uprobe: { binary: ./v, function: f, pid: -1 } }", "'pid' must be between 0 and 2147483647, found -1", 8, 60),
        ("attach: { uprobe: { binary: ./v, function: f, pdi: 1 } }", "unknown key 'pdi'; did you mean 'pid'?", 8, 55),
        ("attach: { uprobe: { binary: ./v, function: \"\" } }", "'function' is empty", 8, 52),
        ("attach: { kprobe: { offset: 8 } }", "missing required key 'function' in 'kprobe' target", 8, 27),
        ("attach: { kprobe: do_sys_open }", "'kprobe' target: expected a mapping, found a string", 8, 27),
        ("attach: { cgroup: { type: sock_ops } }", "missing required key 'path' in 'cgroup' target", 8, 27),
        ("attach: { cgroup: { path: lab } }", "cgroup 'path' must be absolute, found 'lab'", 8, 35),
        ("attach: { cgroup: { path: /sys/fs/cgroup/x, type: sockops } }", "unknown cgroup attach type 'sockops'; did you mean 'sock_ops'?", 8, 59),
        ("load: false\nattach: { tracepoint: a/b }", "program 'p' has 'attach' targets but 'load: false'", 9, 9),
    ]

    @Test(arguments: badShapes)
    func badShapesAreRefusedAtTheirPlace(_ c: (String, String, Int, Int)) throws {
        let error = try #require(Self.refused(c.0))
        #expect(error.message.contains(c.1), "\(error)")
        #expect(error.mark?.line == c.2 && error.mark?.column == c.3, "\(error)")
        #expect(error.description.hasPrefix("/lab/pipes/lab.yaml:\(c.2):\(c.3): "), "\(error)")
    }

    @Test func hintsSayWhatToWrite() throws {
        let count = try #require(Self.refused("instances: 2\nattach: [ { tracepoint: a/b } ]"))
        #expect(count.hint?.contains("without the list") == true)
        let kind = try #require(Self.refused("attach: { fentry: x }"))
        #expect(kind.hint?.contains("uprobe, uretprobe, kprobe, kretprobe, tracepoint, raw-tracepoint, xdp, tc, cgroup") == true)
        let cgroup = try #require(Self.refused("attach: { cgroup: { path: /x, type: bogus } }"))
        #expect(cgroup.hint?.contains("sock_create") == true)
    }
}
