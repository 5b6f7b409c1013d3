import CYAML

/// Reads one YAML document into a `YAMLNode` tree with libyaml's event API.
///
/// Anchors and aliases work (an alias reuses the anchored node), but the document may expand to
/// at most `nodeLimit` nodes counting every alias expansion, so a "billion laughs" file is
/// refused after a few thousand events instead of eating the machine.
public enum YAMLParser {
    /// Far more than any pipeline needs, far less than a billion.
    public static let defaultNodeLimit = 100_000
    /// Deeper nesting than this is refused; decoding walks the tree recursively.
    public static let maximumDepth = 200

    /// Parses `text`, which must hold exactly one document.
    public static func parse(text: String, file: String, nodeLimit: Int = defaultNodeLimit) throws -> YAMLNode {
        try parse(bytes: Array(text.utf8), file: file, nodeLimit: nodeLimit)
    }

    /// Parses UTF-8 (or UTF-16 with a byte-order mark) `bytes`, which must hold exactly one document.
    public static func parse(bytes: [UInt8], file: String, nodeLimit: Int = defaultNodeLimit) throws -> YAMLNode {
        guard !bytes.isEmpty else { throw PipelineError(mark: nil, file: file, message: "empty pipeline file") }
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) == 1 else {
            throw PipelineError(mark: nil, file: file, message: "cannot start the YAML parser (out of memory)")
        }
        defer { yaml_parser_delete(parser) }
        let event = UnsafeMutablePointer<yaml_event_t>.allocate(capacity: 1)
        defer { event.deallocate() }

        // libyaml reads the buffer lazily, so it must stay valid for the whole loop.
        return try bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(parser, buffer.baseAddress, buffer.count)
            var builder = TreeBuilder(file: file, nodeLimit: nodeLimit)
            while true {
                guard yaml_parser_parse(parser, event) == 1 else {
                    throw syntaxError(parser.pointee, bytes: bytes, file: file)
                }
                defer { yaml_event_delete(event) }
                if try builder.handle(event.pointee) { break }
            }
            guard let root = builder.root else {
                throw PipelineError(mark: nil, file: file, message: "empty pipeline file")
            }
            return root
        }
    }

    /// libyaml's own words for a malformed file, at the place it stopped.
    private static func syntaxError(_ p: yaml_parser_t, bytes: [UInt8], file: String) -> PipelineError {
        let problem = p.problem.map { String(cString: $0) } ?? "malformed YAML"
        switch p.error {
        case YAML_READER_ERROR:
            let mark = markOfByte(p.problem_offset, in: bytes, file: file)
            let value = p.problem_value == -1 ? "" : " (0x\(String(p.problem_value, radix: 16, uppercase: true)))"
            return PipelineError(at: mark, "invalid YAML input: \(problem)\(value)",
                                 hint: "pipeline files are UTF-8 text")
        case YAML_SCANNER_ERROR, YAML_PARSER_ERROR:
            let mark = SourceMark(yaml: p.problem_mark, file: file)
            var message = "invalid YAML: \(problem)"
            if let context = p.context {
                let where_ = SourceMark(yaml: p.context_mark, file: file)
                message += " (\(String(cString: context)) at \(where_.line):\(where_.column))"
            }
            let offset = Int(p.problem_mark.index)
            let tab = offset < bytes.count && bytes[offset] == UInt8(ascii: "\t")
            return PipelineError(at: mark, message, hint: tab ? "YAML indentation must use spaces, not tabs" : nil)
        default:
            return PipelineError(mark: nil, file: file, message: "YAML parser failed: \(problem)")
        }
    }

    /// Line and column of a byte offset, columns counted in characters like libyaml's marks.
    private static func markOfByte(_ offset: Int, in bytes: [UInt8], file: String) -> SourceMark {
        var line = 1, column = 1
        for b in bytes.prefix(offset) {
            if b == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if b & 0xC0 != 0x80 {
                column += 1
            }
        }
        return SourceMark(file: file, line: line, column: column)
    }
}

extension SourceMark {
    /// libyaml's marks are 0-based; ours are 1-based like every editor's.
    init(yaml mark: yaml_mark_t, file: String) {
        self.init(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }
}

/// Turns the event stream into a tree: collections being read sit on a stack until their end
/// event, finished nodes are added to the collection on top.
private struct TreeBuilder {
    struct Frame {
        var isMapping: Bool
        var mark: SourceMark
        var anchor: String?
        /// `nodes` when the collection started, so its size is known when it ends.
        var nodesAtStart: Int
        var items: [YAMLNode] = []
        var pairs: [(key: YAMLNode, value: YAMLNode)] = []
        var pendingKey: YAMLNode?
        var keysSeen: [String: SourceMark] = [:]
    }

    let file: String
    let nodeLimit: Int
    var stack: [Frame] = []
    /// Each finished anchored node with its size counting nested alias expansions.
    var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    /// Nodes in the document so far, counting every node an alias stands for.
    var nodes = 0
    var expandedAlias = false
    var documents = 0
    var root: YAMLNode?

    init(file: String, nodeLimit: Int) {
        self.file = file
        self.nodeLimit = nodeLimit
    }

    /// Handles one event; true at the end of the stream.
    mutating func handle(_ event: yaml_event_t) throws -> Bool {
        let mark = SourceMark(yaml: event.start_mark, file: file)
        switch event.type {
        case YAML_STREAM_END_EVENT:
            return true
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 {
                throw PipelineError(at: mark, "more than one YAML document in the file",
                                    hint: "a pipeline file holds one document; remove the second '---' and what follows, or split the file")
            }
        case YAML_SCALAR_EVENT:
            let s = event.data.scalar
            let value = String(decoding: UnsafeBufferPointer(start: s.value, count: Int(s.length)), as: UTF8.self)
            let scalar = YAMLNode.Scalar(value: value, tag: s.tag.map(Self.text), style: Self.style(s.style))
            let start = nodes
            try count(1, at: mark)
            try finish(YAMLNode(.scalar(scalar), mark: mark), anchor: s.anchor.map(Self.text), nodesAtStart: start)
        case YAML_SEQUENCE_START_EVENT:
            try open(isMapping: false, anchor: event.data.sequence_start.anchor.map(Self.text), at: mark)
        case YAML_MAPPING_START_EVENT:
            try open(isMapping: true, anchor: event.data.mapping_start.anchor.map(Self.text), at: mark)
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            let frame = stack.removeLast()
            let content: YAMLNode.Content = frame.isMapping ? .mapping(frame.pairs) : .sequence(frame.items)
            try finish(YAMLNode(content, mark: frame.mark), anchor: frame.anchor, nodesAtStart: frame.nodesAtStart)
        case YAML_ALIAS_EVENT:
            let name = Self.text(event.data.alias.anchor)
            guard let (node, size) = anchors[name] else {
                if stack.contains(where: { $0.anchor == name }) {
                    throw PipelineError(at: mark, "alias '*\(name)' refers to a node that contains it (a cycle)")
                }
                throw PipelineError(at: mark, "undefined alias '*\(name)'",
                                    hint: "define '&\(name)' on a value before this point")
            }
            expandedAlias = true
            try count(size, at: mark)
            var copy = node
            copy.mark = mark
            try add(copy)
        default:
            break // stream start, document end
        }
        return false
    }

    private mutating func open(isMapping: Bool, anchor: String?, at mark: SourceMark) throws {
        guard stack.count < YAMLParser.maximumDepth else {
            throw PipelineError(at: mark, "nesting deeper than \(YAMLParser.maximumDepth) levels")
        }
        let start = nodes
        try count(1, at: mark)
        stack.append(Frame(isMapping: isMapping, mark: mark, anchor: anchor, nodesAtStart: start))
    }

    private mutating func count(_ n: Int, at mark: SourceMark) throws {
        nodes += n
        guard nodes > nodeLimit else { return }
        if expandedAlias {
            throw PipelineError(at: mark, "alias expansion too large (billion laughs?): the document expands to more than \(nodeLimit) nodes",
                                hint: "aliases here repeat nodes that themselves repeat aliases; write the values out")
        }
        throw PipelineError(at: mark, "document too large: more than \(nodeLimit) nodes")
    }

    private mutating func finish(_ node: YAMLNode, anchor: String?, nodesAtStart: Int) throws {
        if let anchor { anchors[anchor] = (node, nodes - nodesAtStart) }
        try add(node)
    }

    private mutating func add(_ node: YAMLNode) throws {
        guard !stack.isEmpty else {
            root = node
            return
        }
        let top = stack.count - 1
        if !stack[top].isMapping {
            stack[top].items.append(node)
        } else if let key = stack[top].pendingKey {
            stack[top].pairs.append((key, node))
            stack[top].pendingKey = nil
        } else {
            let identity = node.scalar?.value ?? node.json()
            if let first = stack[top].keysSeen[identity] {
                throw PipelineError(at: node.mark, "duplicate key '\(identity)' (first at \(first.line):\(first.column))",
                                    hint: "a key may appear once in a mapping; merge the two entries")
            }
            stack[top].keysSeen[identity] = node.mark
            stack[top].pendingKey = node
        }
    }

    private static func text(_ p: UnsafeMutablePointer<yaml_char_t>) -> String {
        String(cString: p)
    }

    private static func style(_ s: yaml_scalar_style_t) -> YAMLNode.ScalarStyle {
        switch s {
        case YAML_SINGLE_QUOTED_SCALAR_STYLE: .singleQuoted
        case YAML_DOUBLE_QUOTED_SCALAR_STYLE: .doubleQuoted
        case YAML_LITERAL_SCALAR_STYLE: .literal
        case YAML_FOLDED_SCALAR_STYLE: .folded
        default: .plain
        }
    }
}
