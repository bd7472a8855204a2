import BPCPlan

/// Options for `bpc emit`.
public struct EmitOptions: Sendable {
    public enum Layout: String, Sendable, CaseIterable {
        /// One statement per edge: fastest for small networks, no tables.
        case straightLine = "straight-line"
        /// Loops over the plan's fan-in and fan-out tables: code size independent of edges.
        case tables
    }

    /// Prefix of every generated name: the Swift enum's name and the start of every C name.
    /// The generators use `CodeEmitter.identifier(from: prefix)`, which is `prefix` itself when
    /// `CodeEmitter.problem(withPrefix:)` accepts it, so a bad prefix never yields code that
    /// does not compile; check it with `problem(withPrefix:)` to refuse it instead.
    public var prefix: String
    /// Also generate a training step (SGD on the plan's loss).
    public var train = false
    /// Parameters the training step leaves as they are (`train.freeze`), in plan order; empty
    /// when none are frozen.
    public var frozen: [Bool] = []
    /// binary32 instead of binary64.
    public var singlePrecision = false
    /// Nil: straight-line up to `straightLineEdgeLimit` edges, tables beyond.
    public var layout: Layout?
    /// Free text for the header comment (e.g. the source file); any text is safe there.
    public var source = ""

    public static let straightLineEdgeLimit = 512

    public init(prefix: String) { self.prefix = prefix }

    public func resolvedLayout(for plan: Plan) -> Layout {
        layout ?? (plan.edgeCount <= EmitOptions.straightLineEdgeLimit ? .straightLine : .tables)
    }
}

/// The target language of generated code. C and Swift share the emitter: the statements are
/// written once and the dialect spells declarations, functions and loops.
enum Dialect {
    case c, swift
}

/// Generates dependency-free code for a plan: parameters and tables as constants, a forward
/// pass, and optionally a training step, following the reference runtime's evaluation order
/// (so outputs agree with it to rounding).
public enum CodeEmitter {
    public static func c(_ plan: Plan, options: EmitOptions) -> String {
        var generator = Generator(plan: plan, options: options, dialect: .c)
        return generator.render()
    }

    public static func swift(_ plan: Plan, options: EmitOptions) -> String {
        var generator = Generator(plan: plan, options: options, dialect: .swift)
        return generator.render()
    }
}

private struct Generator {
    let plan: Plan
    let options: EmitOptions
    let dialect: Dialect
    let math: MathSpelling
    let real: String
    let prefix: String
    var lines: [String] = []
    var indent = ""
    /// The plan's tied parameters: the training step then collects every gradient in `grad`,
    /// folds the groups as the runtimes do, and updates afterwards. Nil when nothing is shared.
    let sharing: ParameterSharing?

    init(plan: Plan, options: EmitOptions, dialect: Dialect) {
        self.plan = plan
        self.options = options
        self.dialect = dialect
        // Sanitized here too: options built in code need not have passed `problem(withPrefix:)`.
        prefix = CodeEmitter.identifier(from: options.prefix)
        sharing = ParameterSharing(plan)
        let single = options.singlePrecision
        switch dialect {
        case .c:
            real = single ? "float" : "double"
            let suffix = single ? "f" : ""
            math = MathSpelling(exp: "exp" + suffix, log: "log" + suffix, log1p: "log1p" + suffix, tanh: "tanh" + suffix,
                                abs: "fabs" + suffix, sqrt: "sqrt" + suffix, literal: { Generator.cLiteral($0, single: single) })
        case .swift:
            real = single ? "Float" : "Double"
            math = MathSpelling(exp: "exp", log: "log", log1p: "log1p", tanh: "tanh", abs: "abs", sqrt: "sqrt",
                                literal: { Generator.swiftLiteral($0, single: single) })
        }
    }

    static func cLiteral(_ value: Double, single: Bool) -> String {
        if single { return plainFloat(Float(value).description) + "f" }
        return plainFloat(value.description)
    }

    static func swiftLiteral(_ value: Double, single: Bool) -> String {
        single ? plainFloat(Float(value).description) : plainFloat(value.description)
    }

    /// Swift's shortest form, made a floating literal in every C and Swift context ("1" -> "1.0").
    static func plainFloat(_ text: String) -> String {
        text.contains(".") || text.contains("e") || text.contains("n") ? text : text + ".0"
    }

    mutating func emit(_ line: String = "") { lines.append(line.isEmpty ? "" : indent + line) }

    /// `opening {`, the indented body, `}`; an opening that already starts a closure
    /// (`... { name in`) gets no second brace.
    mutating func block(_ opening: String, _ body: (inout Generator) -> Void) {
        emit(opening.hasSuffix(" in") ? opening : opening + " {")
        let saved = indent
        indent += "    "
        body(&self)
        indent = saved
        emit("}")
    }

    func declare(_ name: String, _ value: String, mutable: Bool = true) -> String {
        dialect == .c ? "\(real) \(name) = \(value);" : "\(mutable ? "var" : "let") \(name): \(real) = \(value);"
    }

    // MARK: Document

    mutating func render() -> String {
        let summary = plan.summary
        // Unit names and the source are arbitrary text (a plan file may name units anything).
        let inputs = plan.inputUnits.map { CodeEmitter.commentText(plan.unitNames[Int($0)]) }
        let classNames = plan.classNames
        let outputs = plan.outputUnits.enumerated().map { index, unit in
            CodeEmitter.commentText(plan.unitNames[Int(unit)]) + (classNames.map { " (class \(CodeEmitter.commentText($0[index])))" } ?? "")
        }
        let source = CodeEmitter.commentText(options.source)
        let layout = options.resolvedLayout(for: plan)
        let comment = dialect == .c ? " *" : "//"
        var header = [
            "\(prefix): generated by bpc\(source.isEmpty ? "" : " from \(source)"); do not edit.",
            "",
            "\(summary.units) units, \(summary.edges) edges, \(summary.parameters) parameters, loss \(plan.loss.name), \(real), \(layout.rawValue).",
            "Inputs, in order: \(inputs.joined(separator: ", ")).",
            "Outputs, in order: \(outputs.joined(separator: ", ")).",
        ]
        if hasProbabilities {
            // Networks imported from a model that ended in Softmax compute the logits here; say so.
            let function = dialect == .c ? "\(prefix)_probabilities(out, p)" : "\(prefix).probabilities(_:)"
            header.append("The outputs are softmax cross-entropy's logits a; the class probabilities are p = softmax(a) = e^(a - max a) / sum e^(a - max a), as bpc predict shows them (\(function) computes them), and the predicted class is the largest a.")
        }
        if let normalization = plan.inputNormalization {
            header.append("Inputs are raw measurements: every function first normalises them, x' = (x - shift) * scale, with the \(normalization.method.rawValue) statistics of the training data.")
        }
        header += [
            "Needs only the \(dialect == .c ? "C math library (<math.h>, link with -lm)" : "platform C library (Glibc or Darwin)"); allocates nothing.",
        ]
        if dialect == .c {
            header += [
                "",
                "\(prefix)_forward(in, out): outputs at the built-in parameters.",
                "\(prefix)_forward_with(params, in, out): outputs at other parameters (\(prefix.uppercased())_PARAMETERS values).",
            ]
            if hasProbabilities {
                header.append("\(prefix)_probabilities(out, p): the class probabilities of outputs out, bit for bit as bpc predict computes them in binary64 (p may be out).")
            }
            if options.train {
                header.append("\(prefix)_train_step(params, in, target, learning_rate): one SGD step on one sample; returns its loss.")
            }
            header.append("Scratch space: \(3 * plan.unitCount * (options.singlePrecision ? 4 : 8)) bytes of stack per call.")
            emit("/*")
            for line in header { emit(line.isEmpty ? " *" : "\(comment) \(line)") }
            emit(" */")
            let guardName = prefix.uppercased() + "_H"
            emit("#ifndef \(guardName)")
            emit("#define \(guardName)")
            emit()
            emit("#include <math.h>")
            emit()
            emit("#define \(prefix.uppercased())_INPUTS \(plan.inputUnits.count)")
            emit("#define \(prefix.uppercased())_OUTPUTS \(plan.outputUnits.count)")
            emit("#define \(prefix.uppercased())_UNITS \(plan.unitCount)")
            emit("#define \(prefix.uppercased())_PARAMETERS \(plan.parameterCount)")
            emit()
            emit("/* The floating type of every value below (\(real) with\(options.singlePrecision ? "" : "out") --float). */")
            emit("typedef \(real) \(prefix)_real;")
            emit()
        } else {
            for line in header { emit(line.isEmpty ? "//" : "// \(line)") }
            emit("//")
            emit("// \(prefix).forward(input, output) and \(prefix).forward(_:) at the built-in parameters;")
            emit("// \(prefix).forward(parameters:input:output:) at other parameters\(options.train ? "; \(prefix).trainStep(parameters:input:target:learningRate:) one SGD step, returning the loss" : "").")
            if hasProbabilities {
                emit("// \(prefix).probabilities(outputs, p) and \(prefix).probabilities(_:): the class probabilities of the outputs, bit for bit as bpc predict computes them in binary64.")
            }
            emit()
            emit("#if canImport(Glibc)")
            emit("import Glibc")
            emit("#elseif canImport(Musl)")
            emit("import Musl")
            emit("#elseif canImport(Darwin)")
            emit("import Darwin")
            emit("#endif")
            emit()
        }
        if dialect == .c {
            body()
            emit()
            emit("#endif")
        } else {
            block("public enum \(prefix)") { $0.body() }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Whether the code gets `probabilities`: softmax cross-entropy's outputs are logits.
    var hasProbabilities: Bool { plan.loss == .softmaxCrossEntropy && !plan.outputUnits.isEmpty }

    mutating func body() {
        constants()
        emit()
        forwardFunctions()
        if hasProbabilities {
            emit()
            probabilitiesFunctions()
        }
        if options.train {
            emit()
            trainFunction()
        }
    }

    // MARK: Constants

    mutating func constants() {
        let keys = plan.parameterKeys()
        let values = plan.parameters.enumerated().map { index, value in
            "\(math.literal(value)) /* \(CodeEmitter.commentText(keys[index])) */"
        }
        array("parameters", type: real, values: values, isPublic: true,
              comment: "Trained or initial parameters: weights in fan-in order, then biases.")
        if dialect == .swift {
            emit("public static let inputCount = \(plan.inputUnits.count)")
            emit("public static let outputCount = \(plan.outputUnits.count)")
            emit("public static let unitCount = \(plan.unitCount)")
            emit("public static let parameterCount = \(plan.parameterCount)")
        }
        guard options.resolvedLayout(for: plan) == .tables else { return }
        let kinds = (0..<plan.unitCount).map { plan.roles[$0] == .input ? "0" : String(activationCode(plan.activations[$0])) }
        array("unit_kind", type: "int", values: kinds, comment: "0: input; otherwise 1 + the activation's index.")
        array("bias", type: "int", values: plan.biasParameter.map(String.init), comment: "Bias parameter of each unit, or -1.")
        array("outputs", type: "int", values: plan.outputUnits.map(String.init))
        array("inputs", type: "int", values: plan.inputUnits.map(String.init))
        array("fan_in_start", type: "int", values: plan.fanInStart.map(String.init))
        array("fan_in_source", type: "int", values: plan.fanInSource.map(String.init))
        if options.train {
            var slots = [String](repeating: "-1", count: plan.unitCount)
            for (index, unit) in plan.outputUnits.enumerated() { slots[Int(unit)] = String(index) }
            array("output_slot", type: "int", values: slots, comment: "Index of each unit among the outputs, or -1.")
            array("fan_out_start", type: "int", values: plan.fanOutStart.map(String.init))
            array("fan_out_target", type: "int", values: plan.fanOutTarget.map(String.init))
            array("fan_out_parameter", type: "int", values: plan.fanOutParameter.map(String.init))
        }
    }

    func activationCode(_ activation: Activation) -> Int {
        (Activation.allCases.firstIndex(of: activation) ?? 0) + 1
    }

    mutating func array(_ name: String, type: String, values: [String], isPublic: Bool = false, comment: String? = nil) {
        if let comment { emit(dialect == .c ? "/* \(comment) */" : "/// \(comment)") }
        // C forbids empty arrays; a dummy element keeps the table valid and is never read.
        let items = values.isEmpty ? ["0"] : values
        let swiftType = type == "int" ? "Int32" : type
        switch dialect {
        case .c: emit("static const \(type) \(prefix)_\(name)[\(items.count)] = {")
        case .swift: emit("\(isPublic ? "public " : "")static let \(swiftName(name)): [\(swiftType)] = [")
        }
        var line = "    "
        for (index, item) in items.enumerated() {
            let piece = item + (index + 1 < items.count ? ", " : "")
            if line.count + piece.count > 100 && line.count > 4 {
                emit(line.trimmingTrailingSpace())
                line = "    "
            }
            line += piece
        }
        emit(line.trimmingTrailingSpace())
        emit(dialect == .c ? "};" : "]")
    }

    func swiftName(_ name: String) -> String {
        let parts = name.split(separator: "_")
        return parts.enumerated().map { $0 == 0 ? String($1) : $1.prefix(1).uppercased() + $1.dropFirst() }.joined()
    }

    func table(_ name: String) -> String { dialect == .c ? "\(prefix)_\(name)" : swiftName(name) }

    // MARK: Functions

    enum Parameter {
        /// A pointer to reals, read-only or written.
        case reals(String, mutable: Bool)
        /// One real by value.
        case real(String)
    }

    /// Declares a function taking pointers to reals (and plain reals).
    mutating func function(
        _ name: String, returns: String?, parameters: [Parameter], isPublic: Bool = false,
        _ body: (inout Generator) -> Void
    ) {
        switch dialect {
        case .c:
            let list = parameters.map { parameter in
                switch parameter {
                case .reals(let name, let mutable): return "\(mutable ? "" : "const ")\(real) *\(name)"
                case .real(let name): return "\(real) \(name)"
                }
            }
            block("static inline \(returns ?? "void") \(prefix)_\(name)(\(list.joined(separator: ", ")))", body)
        case .swift:
            let list = parameters.map { parameter in
                switch parameter {
                case .reals(let name, let mutable): return "_ \(name): Unsafe\(mutable ? "Mutable" : "")Pointer<\(real)>"
                case .real(let name): return "_ \(name): \(real)"
                }
            }
            let access = isPublic ? "public " : ""
            block("\(access)static func \(swiftName(name))(\(list.joined(separator: ", ")))\(returns.map { " -> \($0)" } ?? "")", body)
        }
    }

    /// A scratch array of `count` reals named `name`, alive for `body`.
    mutating func scratch(_ names: [String], count: Int, _ body: (inout Generator) -> Void) {
        switch dialect {
        case .c:
            for name in names { emit("\(real) \(name)[\(count)];") }
            body(&self)
        case .swift:
            guard let first = names.first else { return body(&self) }
            block("return withUnsafeTemporaryAllocation(of: \(real).self, capacity: \(count)) { \(first) in") { generator in
                generator.scratch(Array(names.dropFirst()), count: count, body)
            }
        }
    }

    mutating func forwardFunctions() {
        let n = plan.unitCount
        function("run", returns: nil, parameters: [.reals("p", mutable: false), .reals("input", mutable: false), .reals("a", mutable: true), .reals("z", mutable: true)]) { g in
            g.forwardBody()
        }
        emit()
        switch dialect {
        case .c:
            function("forward_with", returns: nil, parameters: [.reals("params", mutable: false), .reals("in", mutable: false), .reals("out", mutable: true)]) { g in
                g.emit("\(g.real) a[\(n)];")
                g.emit("\(g.real) z[\(n)];")
                g.emit("\(g.prefix)_run(params, in, a, z);")
                g.copyOutputs()
            }
            emit()
            function("forward", returns: nil, parameters: [.reals("in", mutable: false), .reals("out", mutable: true)]) { g in
                g.emit("\(g.prefix)_forward_with(\(g.prefix)_parameters, in, out);")
            }
        case .swift:
            emit("/// Outputs for `input` at `parameters` (`parameterCount` values), written to `out`.")
            block("public static func forward(parameters: UnsafePointer<\(real)>, input: UnsafePointer<\(real)>, output out: UnsafeMutablePointer<\(real)>)") { g in
                g.block("withUnsafeTemporaryAllocation(of: \(g.real).self, capacity: \(2 * n)) { scratch in") { g in
                    g.emit("let a = scratch.baseAddress!")
                    g.emit("let z = a + \(n)")
                    g.emit("run(parameters, input, a, z)")
                    g.copyOutputs()
                }
            }
            emit()
            emit("/// Outputs for `input` at the built-in parameters, written to `out`.")
            block("public static func forward(_ input: UnsafePointer<\(real)>, _ out: UnsafeMutablePointer<\(real)>)") { g in
                g.emit("parameters.withUnsafeBufferPointer { forward(parameters: $0.baseAddress!, input: input, output: out) }")
            }
            emit()
            emit("/// Outputs for `input` at the built-in parameters (allocates the result).")
            block("public static func forward(_ input: [\(real)]) -> [\(real)]") { g in
                g.emit("precondition(input.count == inputCount, \"\(g.prefix).forward: expected \\(inputCount) inputs\")")
                g.emit("var output = [\(g.real)](repeating: 0, count: outputCount)")
                g.emit("input.withUnsafeBufferPointer { i in output.withUnsafeMutableBufferPointer { o in forward(i.baseAddress!, o.baseAddress!) } }")
                g.emit("return output")
            }
        }
    }

    /// `probabilities(out, p)`: `Prediction.softmax` (what `bpc predict` shows) operation for
    /// operation, so binary64 results are its bits. The running maximum starts at the first
    /// logit and takes a later one only when it is larger, as `Array.max()` does (NaN included);
    /// an infinite largest logit is the limit, its classes sharing probability 1; otherwise
    /// p_o = e^(a_o - max) / sum, with the exponentials added from 0 in output order. The
    /// exponential and the quotient are the loss's definitions (`Loss.softmaxExponential`,
    /// `Loss.softmaxProbability`), rendered. Each p[o] is written after out[o] and every out[k]
    /// for k < o has been read, so p may be out.
    mutating func probabilitiesFunctions() {
        typealias E = FormulaExpression
        let count = dialect == .c ? "\(prefix.uppercased())_OUTPUTS" : "outputCount"
        let infinity = dialect == .c ? "INFINITY" : ".infinity"
        let exponential = Loss.softmaxExponential(a: E.name("out[o]"), largest: E.name("largest")).assignment(to: "p[o]", math)
        let probability = Loss.softmaxProbability(exponential: E.name("p[o]"), sum: E.name("sum")).assignment(to: "p[o]", math)
        if dialect == .swift {
            emit("/// The class probabilities of outputs `out` (`outputCount` logits), written to `p` (which may")
            emit("/// be `out`): softmax(out), bit for bit as bpc predict computes it in binary64.")
        } else {
            emit("/* The class probabilities of outputs out, written to p (which may be out): softmax(out), bit for bit as bpc predict computes it in binary64. */")
        }
        function("probabilities", returns: nil, parameters: [.reals("out", mutable: false), .reals("p", mutable: true)], isPublic: true) { g in
            g.emit(g.declare("largest", "out[0]"))
            g.emit(g.declare("sum", g.math.literal(0)))
            if g.dialect == .c { g.emit("int o;") }
            g.loop("o", from: "1", to: count, declared: true) { g in
                g.emit("if (out[o] > largest) { largest = out[o]; }")
            }
            g.block("if (largest == \(infinity))") { g in
                g.emit(g.dialect == .c ? "/* The limit: the classes of infinite logits share probability 1. */" : "// The limit: the classes of infinite logits share probability 1.")
                g.emit(g.declare("top", g.math.literal(0)))
                g.loop("o", to: count, declared: true) { g in
                    g.emit("if (out[o] == largest) { top += \(g.math.literal(1)); }")
                }
                g.loop("o", to: count, declared: true) { g in
                    g.emit("p[o] = out[o] == largest ? \(g.math.literal(1)) / top : \(g.math.literal(0));")
                }
                g.emit(g.dialect == .c ? "return;" : "return")
            }
            g.loop("o", to: count, declared: true) { g in
                g.emit(exponential)
                g.emit((E.name("sum") + E.name("p[o]")).assignment(to: "sum", g.math))
            }
            g.loop("o", to: count, declared: true) { g in g.emit(probability) }
        }
        if dialect == .swift {
            emit()
            emit("/// The class probabilities of `outputs` (allocates the result).")
            block("public static func probabilities(_ outputs: [\(real)]) -> [\(real)]") { g in
                g.emit("precondition(outputs.count == outputCount, \"\(g.prefix).probabilities: expected \\(outputCount) outputs\")")
                g.emit("var p = [\(g.real)](repeating: 0, count: outputCount)")
                g.emit("outputs.withUnsafeBufferPointer { o in p.withUnsafeMutableBufferPointer { q in probabilities(o.baseAddress!, q.baseAddress!) } }")
                g.emit("return p")
            }
        }
    }

    mutating func copyOutputs() {
        for (index, unit) in plan.outputUnits.enumerated() { emit("out[\(index)] = z[\(unit)];") }
    }

    mutating func forwardBody() {
        for (index, unit) in plan.inputUnits.enumerated() {
            if let normalization = plan.inputNormalization {
                // The runtime's `InputNormalization.normalized`, operation for operation.
                let shift = math.literal(normalization.shift[index]), scale = math.literal(normalization.scale[index])
                emit("a[\(unit)] = (input[\(index)] - \(parenthesized(shift))) * \(parenthesized(scale));")
                emit("z[\(unit)] = a[\(unit)];")
            } else {
                emit("a[\(unit)] = input[\(index)];")
                emit("z[\(unit)] = input[\(index)];")
            }
        }
        switch options.resolvedLayout(for: plan) {
        case .straightLine:
            for unit in 0..<plan.unitCount where plan.roles[unit] != .input {
                emit(dialect == .c ? "{" : "do {")
                indent += "    "
                var terms = (Int(plan.fanInStart[unit])..<Int(plan.fanInStart[unit + 1])).map { "p[\($0)] * z[\(plan.fanInSource[$0])]" }
                if plan.biasParameter[unit] >= 0 { terms.append("p[\(plan.biasParameter[unit])]") }
                sum("s", of: terms)
                emit("a[\(unit)] = s;")
                emit("z[\(unit)] = \(plan.activations[unit].valueCode("s", math));")
                indent.removeLast(4)
                emit("}")
            }
        case .tables:
            if dialect == .c { emit("int e;") }
            loop("j", to: String(plan.unitCount)) { g in
                g.emit(g.dialect == .c ? "int kind = \(g.table("unit_kind"))[j];" : "let kind = \(g.table("unit_kind"))[j]")
                g.emit("if (kind == 0) { continue; }")
                g.emit(g.declare("s", g.math.literal(0)))
                g.loop("e", from: "\(g.table("fan_in_start"))[j]", to: "\(g.table("fan_in_start"))[j + 1]", declared: true) { g in
                    g.emit("s += p[e] * z[\(g.index("\(g.table("fan_in_source"))[e]"))];")
                }
                g.emit("if (\(g.table("bias"))[j] >= 0) { s += p[\(g.index("\(g.table("bias"))[j]"))]; }")
                g.emit("a[j] = s;")
                g.activationSwitch(result: "z[j]", a: "s", z: nil)
            }
        }
    }

    /// Declares `name` as the sum of `terms`, added left to right as the runtimes add them.
    /// The sum starts from its first term, not from 0: `0 + x` is not `x` for x = -0, so a
    /// compiler must keep that addition, and on a small network's serial chain of sums (one
    /// per unit, forward and back) it costs about 10% of a training step.
    mutating func sum(_ name: String, of terms: [String]) {
        guard let first = terms.first else { return emit(declare(name, math.literal(0))) }
        emit(declare(name, first, mutable: terms.count > 1))
        for term in terms.dropFirst() { emit("\(name) += \(term);") }
    }

    /// A negative literal in parentheses, so it reads the same after a binary operator.
    func parenthesized(_ literal: String) -> String { literal.hasPrefix("-") ? "(\(literal))" : literal }

    /// `p[i]` with an index of table type: C indexes with int directly; Swift needs Int().
    func index(_ expression: String) -> String { dialect == .c ? expression : "Int(\(expression))" }

    /// `for (var = from; var < to; ++var)`; in Swift the bounds are converted to Int.
    mutating func loop(_ variable: String, from: String = "0", to: String, declared: Bool = false, reverse: Bool = false,
                       _ body: (inout Generator) -> Void) {
        switch dialect {
        case .c:
            let head = reverse
                ? "for (\(declared ? "" : "int ")\(variable) = \(to) - 1; \(variable) >= \(from); --\(variable))"
                : "for (\(declared ? "" : "int ")\(variable) = \(from); \(variable) < \(to); ++\(variable))"
            block(head, body)
        case .swift:
            let range = "Int(\(from))..<Int(\(to))"
            block("for \(variable) in \(reverse ? "(\(range)).reversed()" : range)", body)
        }
    }

    /// Applies the activation (or, with `z`, its derivative) chosen by `kind` at run time.
    mutating func activationSwitch(result: String, a: String, z: String?) {
        let used = Array(Set((0..<plan.unitCount).filter { plan.roles[$0] != .input }.map { plan.activations[$0] }))
            .sorted { activationCode($0) < activationCode($1) }
        switch dialect {
        case .c:
            block("switch (kind)") { g in
                for activation in used {
                    let code = z.map { activation.derivativeCode(a, $0, g.math) } ?? activation.valueCode(a, g.math)
                    g.emit("case \(g.activationCode(activation)): \(result) = \(code); break;")
                }
                g.emit("default: \(result) = \(g.math.literal(0)); break;")
            }
        case .swift:
            block("switch kind") { g in
                for activation in used {
                    let code = z.map { activation.derivativeCode(a, $0, g.math) } ?? activation.valueCode(a, g.math)
                    g.emit("case \(g.activationCode(activation)): \(result) = \(code)")
                }
                g.emit("default: \(result) = 0")
            }
        }
    }

    // MARK: Training

    mutating func trainFunction() {
        let n = plan.unitCount
        let outputs = plan.outputUnits.enumerated().map { index, unit in
            OutputCode(a: "a[\(unit)]", z: "z[\(unit)]", target: "target[\(index)]", direct: "direct[\(index)]",
                       activation: plan.activations[Int(unit)])
        }
        let lossLines = plan.loss.code(outputs: outputs, loss: "loss", math: math) { declare($0, $1, mutable: $2) }
        let parameters: [Parameter] = [.reals("p", mutable: true), .reals("input", mutable: false), .reals("target", mutable: false), .real("learning_rate")]
        if dialect == .swift {
            emit("/// One SGD step on one sample: p <- p - learning_rate * dE/dp. Returns the sample's loss")
            emit("/// before the step. `p` holds `parameterCount` values (start from `parameters`).")
        } else {
            emit("/* One SGD step on one sample: p <- p - learning_rate * dE/dp. Returns the sample's loss before the step. */")
        }
        function("train_step", returns: real, parameters: parameters, isPublic: true) { g in
            let gradientStart = 3 * n + max(1, g.plan.outputUnits.count)
            g.scratch(["scratch"], count: gradientStart + (g.sharing == nil ? 0 : g.plan.parameterCount)) { g in
                if g.dialect == .c {
                    g.emit("\(g.real) *a = scratch;")
                    g.emit("\(g.real) *z = scratch + \(n);")
                    g.emit("\(g.real) *d = scratch + \(2 * n);")
                    g.emit("\(g.real) *direct = scratch + \(3 * n);")
                    if g.sharing != nil { g.emit("\(g.real) *grad = scratch + \(gradientStart);") }
                } else {
                    g.emit("let a = scratch.baseAddress!")
                    g.emit("let z = a + \(n)")
                    g.emit("let d = a + \(2 * n)")
                    g.emit("let direct = a + \(3 * n)")
                    if g.sharing != nil { g.emit("let grad = a + \(gradientStart)") }
                }
                g.emit(g.dialect == .c ? "\(g.real) loss = \(g.math.literal(0));" : "var loss: \(g.real) = 0")
                g.emit(g.dialect == .c ? "\(g.prefix)_run(p, input, a, z);" : "run(p, input, a, z)")
                for line in lossLines { g.emit(line) }
                // Frozen parameters are put back after the update: their values, bit for bit.
                let frozen = g.options.frozen.indices.filter { g.options.frozen[$0] && $0 < g.plan.parameterCount }
                for parameter in frozen { g.emit(g.declare("frozen_\(parameter)", "p[\(parameter)]", mutable: false)) }
                g.backward()
                if let sharing = g.sharing { g.foldAndUpdate(sharing) }
                for parameter in frozen { g.emit("p[\(parameter)] = frozen_\(parameter);") }
                g.emit(g.dialect == .c ? "return loss;" : "return loss")
            }
        }
        if dialect == .swift {
            emit()
            emit("/// `train_step` on arrays: one SGD step on one sample, returning its loss.")
            block("public static func trainStep(parameters: inout [\(real)], input: [\(real)], target: [\(real)], learningRate: \(real)) -> \(real)") { g in
                g.emit("precondition(parameters.count == parameterCount && input.count == inputCount && target.count == outputCount, \"\(g.prefix).trainStep: wrong sizes\")")
                g.emit("return parameters.withUnsafeMutableBufferPointer { p in input.withUnsafeBufferPointer { i in target.withUnsafeBufferPointer { t in trainStep(p.baseAddress!, i.baseAddress!, t.baseAddress!, learningRate) } } }")
            }
        }
    }

    /// The statement updating `parameter` by this sample's `gradient`: `Optimizer.sgdStep`
    /// rendered (`p[i] -= learning_rate * g;`), so the step is the runtime's SGD rule.
    /// With tied parameters it only stores the gradient (`grad[i] = g;`); `foldAndUpdate` then
    /// sums the groups and applies the step to every parameter.
    func update(_ parameter: String, gradient: FormulaExpression) -> String {
        if sharing != nil, parameter.hasPrefix("p[") {
            return gradient.assignment(to: "grad" + parameter.dropFirst(), math)
        }
        return Optimizer.sgdStep(weight: .name(parameter), gradient: gradient, rate: .name("learning_rate")).assignment(to: parameter, math)
    }

    /// The runtimes' fold (`ParameterSharing.fold`, in its order), then the SGD step on every
    /// parameter with its folded gradient.
    mutating func foldAndUpdate(_ sharing: ParameterSharing) {
        emit(dialect == .c ? "/* Tied parameters: each group's gradient is the sum over its uses. */" : "// Tied parameters: each group's gradient is the sum over its uses.")
        for (member, canonical) in zip(sharing.members, sharing.canonicals) { emit("grad[\(canonical)] += grad[\(member)];") }
        for (member, canonical) in zip(sharing.members, sharing.canonicals) { emit("grad[\(member)] = grad[\(canonical)];") }
        if dialect == .c { emit("int i;") }
        let step = Optimizer.sgdStep(weight: FormulaExpression.name("p[i]"), gradient: FormulaExpression.name("grad[i]"), rate: FormulaExpression.name("learning_rate")).assignment(to: "p[i]", math)
        loop("i", to: String(plan.parameterCount), declared: true) { g in g.emit(step) }
    }

    /// Deltas for every unit in reverse order (all before any update, since each delta reads
    /// the weights of its outgoing edges), then every parameter's update.
    mutating func backward() {
        var outputSlot = [Int](repeating: -1, count: plan.unitCount)
        for (index, unit) in plan.outputUnits.enumerated() { outputSlot[Int(unit)] = index }
        switch options.resolvedLayout(for: plan) {
        case .straightLine:
            for unit in stride(from: plan.unitCount - 1, through: 0, by: -1) where plan.roles[unit] != .input {
                let direct = outputSlot[unit] >= 0 ? "direct[\(outputSlot[unit])]" : nil
                guard plan.fanOutStart[unit] < plan.fanOutStart[unit + 1] else {
                    // Nothing flows back: the delta is the loss's direct term alone.
                    emit("d[\(unit)] = \(direct ?? math.literal(0));")
                    continue
                }
                emit(dialect == .c ? "{" : "do {")
                indent += "    "
                sum("downstream", of: (Int(plan.fanOutStart[unit])..<Int(plan.fanOutStart[unit + 1])).map {
                    "d[\(plan.fanOutTarget[$0])] * p[\(plan.fanOutParameter[$0])]"
                })
                let derivative = plan.activations[unit].derivativeCode("a[\(unit)]", "z[\(unit)]", math)
                emit("d[\(unit)] = \(derivative) * downstream\(direct.map { " + \($0)" } ?? "");")
                indent.removeLast(4)
                emit("}")
            }
            for unit in 0..<plan.unitCount where plan.roles[unit] != .input {
                for edge in Int(plan.fanInStart[unit])..<Int(plan.fanInStart[unit + 1]) {
                    emit(update("p[\(edge)]", gradient: .name("d[\(unit)]") * .name("z[\(plan.fanInSource[edge])]")))
                }
                if plan.biasParameter[unit] >= 0 { emit(update("p[\(plan.biasParameter[unit])]", gradient: .name("d[\(unit)]"))) }
            }
        case .tables:
            if dialect == .c { emit("int e;") }
            loop("j", to: String(plan.unitCount), reverse: true) { g in
                g.emit(g.dialect == .c ? "int kind = \(g.table("unit_kind"))[j];" : "let kind = \(g.table("unit_kind"))[j]")
                g.emit(g.dialect == .c ? "\(g.real) derivative;" : "var derivative: \(g.real)")
                g.emit(g.declare("downstream", g.math.literal(0)))
                g.emit("if (kind == 0) { continue; }")
                g.loop("e", from: "\(g.table("fan_out_start"))[j]", to: "\(g.table("fan_out_start"))[j + 1]", declared: true) { g in
                    g.emit("downstream += d[\(g.index("\(g.table("fan_out_target"))[e]"))] * p[\(g.index("\(g.table("fan_out_parameter"))[e]"))];")
                }
                g.activationSwitch(result: "derivative", a: "a[j]", z: "z[j]")
                g.emit("d[j] = derivative * downstream;")
                g.emit("if (\(g.table("output_slot"))[j] >= 0) { d[j] += direct[\(g.index("\(g.table("output_slot"))[j]"))]; }")
            }
            loop("j", to: String(plan.unitCount)) { g in
                g.emit("if (\(g.table("unit_kind"))[j] == 0) { continue; }")
                g.loop("e", from: "\(g.table("fan_in_start"))[j]", to: "\(g.table("fan_in_start"))[j + 1]", declared: true) { g in
                    g.emit(g.update("p[e]", gradient: .name("d[j]") * .name("z[\(g.index("\(g.table("fan_in_source"))[e]"))]")))
                }
                g.emit("if (\(g.table("bias"))[j] >= 0) { \(g.update("p[\(g.index("\(g.table("bias"))[j]"))]", gradient: .name("d[j]"))) }")
            }
        }
    }
}

extension String {
    fileprivate func trimmingTrailingSpace() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
