//! Module → StableHLO MLIR text.
//!
//! The entry computation becomes `func.func public @main`; computations reached
//! through [`Op::Call`] / [`Op::Fusion`] become private functions called with
//! `func.call`; the bodies of reduce, reduce_window, scatter, sort, while and
//! conditional are inlined as regions ending in `stablehlo.return`. Ops print in
//! MLIR's generic form (`"stablehlo.add"(%0, %1) : (...) -> ...`), which every
//! StableHLO parser accepts. Ops StableHLO lacks but JAX emits through the CHLO
//! dialect (erf, erf_inv, lgamma, digamma, asin, acos, atan, sinh, cosh, asinh,
//! acosh, atanh, next_after, top_k) print as `chlo.*`, which XLA legalizes.
//! Host callbacks cannot be exported.
//!
//! ```
//! use oxla::{BinaryOp, Builder, DType, Shape};
//! let mut b = Builder::new("add");
//! let x = b.parameter(Shape::new(DType::F32, [2, 3]));
//! let y = b.binary(BinaryOp::Add, x, x);
//! let text = oxla::export::to_stablehlo_text(&b.finish(&[y])).unwrap();
//! assert!(text.contains("func.func public @main(%arg0: tensor<2x3xf32>) -> (tensor<2x3xf32>)"));
//! assert!(text.contains("\"stablehlo.add\"(%arg0, %arg0)"));
//! ```

use super::mlir::*;
use crate::hlo::ir::*;
use crate::hlo::verify::verify_module;
use crate::{DType, Error, Literal, Shape};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Prints `module` as StableHLO MLIR text (`module @name { func.func public @main
/// ... }`). Fails on a module that does not verify and on ops without a StableHLO
/// form (host callbacks), naming the op.
pub fn to_stablehlo_text(module: &Module) -> Result<String, Error> {
    verify_module(module).map_err(Error::InvalidModule)?;
    let mut p = Printer {
        module,
        next_value: 0,
        next_arg: 0,
        callees: BTreeMap::new(),
        queue: Vec::new(),
    };
    let mut funcs = p.function(module.entry, "main", "public")?;
    while let Some((id, name)) = p.queue.pop() {
        funcs.push_str(&p.function(id, &name, "private")?);
    }
    Ok(format!("module @{} {{\n{funcs}}}\n", symbol(&module.name)))
}

/// An error for a module that cannot be expressed in StableHLO.
fn unsupported(what: &str) -> Error {
    Error::InvalidArgument(format!("StableHLO export: {what}"))
}

struct Printer<'m> {
    module: &'m Module,
    /// Counters for fresh SSA names; unique across a whole function so nested
    /// regions never shadow an enclosing name.
    next_value: usize,
    next_arg: usize,
    /// Private function name of every called computation.
    callees: BTreeMap<CompId, String>,
    /// Called computations whose functions are still to print.
    queue: Vec<(CompId, String)>,
}

/// How a region's parameters are bound.
enum RegionArgs {
    /// As block arguments (reduce, sort, scatter, while bodies).
    Block,
    /// To values of the enclosing scope (conditional branches take no arguments).
    Captured(Vec<String>),
}

/// One op in generic form, before naming its results.
struct OpText {
    /// The number of its results, when reserved before its regions were printed.
    id: Option<usize>,
    name: &'static str,
    operands: Vec<String>,
    operand_shapes: Vec<Shape>,
    props: Vec<String>,
    regions: Vec<String>,
    results: Vec<Shape>,
}

impl OpText {
    fn new(name: &'static str, results: Vec<Shape>) -> OpText {
        OpText {
            id: None,
            name,
            operands: Vec::new(),
            operand_shapes: Vec::new(),
            props: Vec::new(),
            regions: Vec::new(),
            results,
        }
    }

    fn operand(mut self, name: String, shape: Shape) -> OpText {
        self.operands.push(name);
        self.operand_shapes.push(shape);
        self
    }

    fn prop(mut self, p: String) -> OpText {
        self.props.push(p);
        self
    }
}

impl Printer<'_> {
    fn fresh_arg(&mut self) -> String {
        self.next_arg += 1;
        format!("%arg{}", self.next_arg - 1)
    }

    fn fresh_value(&mut self) -> usize {
        self.next_value += 1;
        self.next_value - 1
    }

    /// Attaches regions to `op`, numbering `op` first so that numbers follow the text.
    fn with_regions(
        &mut self,
        mut op: OpText,
        regions: Vec<(CompId, RegionArgs)>,
        indent: usize,
    ) -> Result<OpText, Error> {
        op.id = Some(self.fresh_value());
        for (id, args) in regions {
            op.regions.push(self.region(id, args, indent)?);
        }
        Ok(op)
    }

    fn callee(&mut self, id: CompId) -> String {
        if let Some(name) = self.callees.get(&id) {
            return name.clone();
        }
        let name = format!("{}_{}", symbol(&self.module.computation(id).name), id.0);
        self.callees.insert(id, name.clone());
        self.queue.push((id, name.clone()));
        name
    }

    /// One `func.func` with the computation as its body.
    fn function(&mut self, id: CompId, name: &str, visibility: &str) -> Result<String, Error> {
        let comp = self.module.computation(id);
        let args: Vec<String> = comp.params.iter().map(|_| self.fresh_arg()).collect();
        let mut body = String::new();
        let results = self.body(&mut body, id, &args, 4)?;
        let typed: Vec<String> = args
            .iter()
            .zip(&comp.params)
            .map(|(a, s)| format!("{a}: {}", tensor_type(s)))
            .collect();
        let result_shapes = comp.result_shapes();
        let mut out = format!(
            "  func.func {visibility} @{name}({}) -> {} {{\n",
            typed.join(", "),
            type_list(&result_shapes)
        );
        out.push_str(&body);
        let _ = writeln!(
            out,
            "    \"func.return\"({}) : {} -> ()\n  }}",
            results.join(", "),
            type_list(&result_shapes)
        );
        Ok(out)
    }

    /// Prints the instructions of `id` with its parameters bound to `params`;
    /// returns the names of its results.
    fn body(
        &mut self,
        out: &mut String,
        id: CompId,
        params: &[String],
        indent: usize,
    ) -> Result<Vec<String>, Error> {
        let comp = self.module.computation(id);
        let mut names: Vec<Vec<String>> = Vec::with_capacity(comp.instrs.len());
        for instr in &comp.instrs {
            let results = self.instr(out, comp, instr, &names, params, indent)?;
            names.push(results);
        }
        Ok(comp
            .results
            .iter()
            .map(|v| names[v.instr][v.index].clone())
            .collect())
    }

    /// A region `{ ^bb0(...): ... "stablehlo.return"(...) }` for computation `id`.
    fn region(&mut self, id: CompId, args: RegionArgs, indent: usize) -> Result<String, Error> {
        let comp = self.module.computation(id);
        let pad = " ".repeat(indent);
        let mut out = String::from("{\n");
        let params = match args {
            RegionArgs::Block => {
                let names: Vec<String> = comp.params.iter().map(|_| self.fresh_arg()).collect();
                let typed: Vec<String> = names
                    .iter()
                    .zip(&comp.params)
                    .map(|(a, s)| format!("{a}: {}", tensor_type(s)))
                    .collect();
                let _ = writeln!(out, "{pad}^bb0({}):", typed.join(", "));
                names
            }
            RegionArgs::Captured(names) => names,
        };
        let results = self.body(&mut out, id, &params, indent + 2)?;
        let _ = writeln!(
            out,
            "{pad}  \"stablehlo.return\"({}) : {} -> ()",
            results.join(", "),
            type_list(&comp.result_shapes())
        );
        let _ = write!(out, "{pad}}}");
        Ok(out)
    }

    /// Prints one op and names its results.
    fn emit(&mut self, out: &mut String, indent: usize, op: OpText) -> Vec<String> {
        let id = op.id.unwrap_or_else(|| self.fresh_value());
        let (lhs, names) = match op.results.len() {
            0 => (String::new(), vec![]),
            1 => (format!("%{id} = "), vec![format!("%{id}")]),
            n => (
                format!("%{id}:{n} = "),
                (0..n).map(|k| format!("%{id}#{k}")).collect(),
            ),
        };
        let _ = write!(
            out,
            "{}{lhs}\"{}\"({})",
            " ".repeat(indent),
            op.name,
            op.operands.join(", ")
        );
        if !op.props.is_empty() {
            let _ = write!(out, " <{{{}}}>", op.props.join(", "));
        }
        if !op.regions.is_empty() {
            let _ = write!(out, " ({})", op.regions.join(", "));
        }
        let _ = writeln!(
            out,
            " : {} -> {}",
            type_list(&op.operand_shapes),
            result_types(&op.results)
        );
        names
    }

    /// A constant of `shape` with every element `scalar`.
    fn splat(&mut self, out: &mut String, indent: usize, shape: &Shape, scalar: Literal) -> String {
        let op = OpText::new("stablehlo.constant", vec![shape.clone()])
            .prop(format!("value = {}", splat_attr(shape, &scalar)));
        self.emit(out, indent, op).remove(0)
    }

    fn convert(
        &mut self,
        out: &mut String,
        indent: usize,
        x: String,
        from: &Shape,
        to: DType,
    ) -> String {
        let op =
            OpText::new("stablehlo.convert", vec![from.with_dtype(to)]).operand(x, from.clone());
        self.emit(out, indent, op).remove(0)
    }

    /// Prints one instruction (possibly as several ops); returns its result names.
    fn instr(
        &mut self,
        out: &mut String,
        comp: &Computation,
        instr: &Instr,
        names: &[Vec<String>],
        params: &[String],
        indent: usize,
    ) -> Result<Vec<String>, Error> {
        let name_of = |v: &Value| names[v.instr][v.index].clone();
        let shape_of = |v: &Value| comp.shape(*v).clone();
        let results = instr.shapes.clone();
        // The op with all operands in order (most ops need nothing more).
        let plain = |name: &'static str| {
            instr
                .operands
                .iter()
                .fold(OpText::new(name, results.clone()), |op, v| {
                    op.operand(name_of(v), shape_of(v))
                })
        };
        let op = match &instr.op {
            Op::Parameter { index } => return Ok(vec![params[*index].clone()]),
            Op::Constant(lit) => OpText::new("stablehlo.constant", results.clone())
                .prop(format!("value = {}", dense_attr(lit))),
            Op::Iota { dim, .. } => OpText::new("stablehlo.iota", results.clone())
                .prop(format!("iota_dimension = {dim} : i64")),
            Op::Unary(UnaryOp::Exp2) => {
                // As JAX lowers exp2: exp(ln(2) * x).
                let x = &instr.operands[0];
                let shape = shape_of(x);
                let ln2 = self.splat(
                    out,
                    indent,
                    &shape,
                    Literal::scalar_f64(shape.dtype, std::f64::consts::LN_2),
                );
                let mul = OpText::new("stablehlo.multiply", results.clone())
                    .operand(ln2, shape.clone())
                    .operand(name_of(x), shape.clone());
                let prod = self.emit(out, indent, mul).remove(0);
                OpText::new("stablehlo.exponential", results.clone()).operand(prod, shape)
            }
            Op::Unary(u) => plain(unary_name(*u)),
            Op::Binary(b) => plain(binary_name(*b)),
            Op::Compare { dir, total_order } => {
                let dtype = shape_of(&instr.operands[0]).dtype;
                plain("stablehlo.compare")
                    .prop(format!(
                        "compare_type = #stablehlo<comparison_type {}>",
                        compare_type(dtype, *total_order)
                    ))
                    .prop(format!(
                        "comparison_direction = #stablehlo<comparison_direction {}>",
                        dir.name()
                    ))
            }
            Op::Select => plain("stablehlo.select"),
            Op::Clamp => plain("stablehlo.clamp"),
            Op::Convert { .. } => plain("stablehlo.convert"),
            Op::BitcastConvert { .. } => plain("stablehlo.bitcast_convert"),
            Op::BroadcastInDim { broadcast_dims, .. } => plain("stablehlo.broadcast_in_dim").prop(
                format!("broadcast_dimensions = {}", usize_array(broadcast_dims)),
            ),
            Op::Reshape { .. } => plain("stablehlo.reshape"),
            Op::Transpose { perm } => {
                plain("stablehlo.transpose").prop(format!("permutation = {}", usize_array(perm)))
            }
            Op::Reverse { dims } => {
                plain("stablehlo.reverse").prop(format!("dimensions = {}", usize_array(dims)))
            }
            Op::Slice {
                start,
                limit,
                strides,
            } => plain("stablehlo.slice")
                .prop(format!("limit_indices = {}", usize_array(limit)))
                .prop(format!("start_indices = {}", usize_array(start)))
                .prop(format!("strides = {}", usize_array(strides))),
            Op::DynamicSlice { sizes } => {
                let op = OpText::new("stablehlo.dynamic_slice", results.clone())
                    .operand(name_of(&instr.operands[0]), shape_of(&instr.operands[0]));
                self.start_indices(out, indent, op, &instr.operands[1..], &name_of, &shape_of)
                    .prop(format!("slice_sizes = {}", usize_array(sizes)))
            }
            Op::DynamicUpdateSlice => {
                let op = instr.operands[..2].iter().fold(
                    OpText::new("stablehlo.dynamic_update_slice", results.clone()),
                    |op, v| op.operand(name_of(v), shape_of(v)),
                );
                self.start_indices(out, indent, op, &instr.operands[2..], &name_of, &shape_of)
            }
            Op::Concatenate { dim } => {
                plain("stablehlo.concatenate").prop(format!("dimension = {dim} : i64"))
            }
            Op::Pad {
                low,
                high,
                interior,
            } => plain("stablehlo.pad")
                .prop(format!("edge_padding_high = {}", i64_array(high)))
                .prop(format!("edge_padding_low = {}", i64_array(low)))
                .prop(format!("interior_padding = {}", usize_array(interior))),
            Op::Gather {
                dims,
                slice_sizes,
                indices_are_sorted,
            } => {
                let index_vector_dim = shape_of(&instr.operands[1]).rank().saturating_sub(1);
                plain("stablehlo.gather")
                    .prop(format!(
                        "dimension_numbers = {}",
                        gather_dims(dims, index_vector_dim)
                    ))
                    .prop(format!("indices_are_sorted = {indices_are_sorted}"))
                    .prop(format!("slice_sizes = {}", usize_array(slice_sizes)))
            }
            Op::Scatter {
                dims,
                body,
                indices_are_sorted,
                unique_indices,
            } => {
                let index_vector_dim = shape_of(&instr.operands[1]).rank().saturating_sub(1);
                let op = plain("stablehlo.scatter")
                    .prop(format!("indices_are_sorted = {indices_are_sorted}"))
                    .prop(format!(
                        "scatter_dimension_numbers = {}",
                        scatter_dims(dims, index_vector_dim)
                    ))
                    .prop(format!("unique_indices = {unique_indices}"));
                self.with_regions(op, vec![(*body, RegionArgs::Block)], indent)?
            }
            Op::Reduce { dims, body } => {
                let op =
                    plain("stablehlo.reduce").prop(format!("dimensions = {}", usize_array(dims)));
                self.with_regions(op, vec![(*body, RegionArgs::Block)], indent)?
            }
            Op::ReduceWindow {
                window,
                strides,
                base_dilation,
                window_dilation,
                padding,
                body,
            } => {
                let op = plain("stablehlo.reduce_window")
                    .prop(format!("base_dilations = {}", usize_array(base_dilation)))
                    .prop(format!("padding = {}", padding_attr(padding)))
                    .prop(format!(
                        "window_dilations = {}",
                        usize_array(window_dilation)
                    ))
                    .prop(format!("window_dimensions = {}", usize_array(window)))
                    .prop(format!("window_strides = {}", usize_array(strides)));
                self.with_regions(op, vec![(*body, RegionArgs::Block)], indent)?
            }
            Op::Sort {
                dim,
                is_stable,
                body,
            } => {
                let op = plain("stablehlo.sort")
                    .prop(format!("dimension = {dim} : i64"))
                    .prop(format!("is_stable = {is_stable}"));
                self.with_regions(op, vec![(*body, RegionArgs::Block)], indent)?
            }
            Op::TopK { k } => plain("chlo.top_k").prop(format!("k = {k} : i64")),
            Op::DotGeneral { dims, .. } => plain("stablehlo.dot_general").prop(format!(
                "dot_dimension_numbers = #stablehlo.dot<lhs_batching_dimensions = {}, \
                 rhs_batching_dimensions = {}, lhs_contracting_dimensions = {}, \
                 rhs_contracting_dimensions = {}>",
                bracket_list(&dims.lhs_batch),
                bracket_list(&dims.rhs_batch),
                bracket_list(&dims.lhs_contracting),
                bracket_list(&dims.rhs_contracting)
            )),
            Op::Convolution {
                window_strides,
                padding,
                lhs_dilation,
                rhs_dilation,
                dims,
                feature_group_count,
                batch_group_count,
                ..
            } => plain("stablehlo.convolution")
                .prop(format!("batch_group_count = {batch_group_count} : i64"))
                .prop(format!("dimension_numbers = {}", conv_dims(dims)))
                .prop(format!("feature_group_count = {feature_group_count} : i64"))
                .prop(format!("lhs_dilation = {}", usize_array(lhs_dilation)))
                .prop(format!("padding = {}", padding_attr(padding)))
                .prop(format!("rhs_dilation = {}", usize_array(rhs_dilation)))
                .prop(format!("window_strides = {}", usize_array(window_strides))),
            Op::ReducePrecision {
                exponent_bits,
                mantissa_bits,
            } => plain("stablehlo.reduce_precision")
                .prop(format!("exponent_bits = {exponent_bits} : i32"))
                .prop(format!("mantissa_bits = {mantissa_bits} : i32")),
            Op::Call { comp: callee } | Op::Fusion { comp: callee, .. } => {
                let name = self.callee(*callee);
                plain("func.call").prop(format!("callee = @{name}"))
            }
            Op::While { cond, body } => {
                let regions = vec![(*cond, RegionArgs::Block), (*body, RegionArgs::Block)];
                self.with_regions(plain("stablehlo.while"), regions, indent)?
            }
            Op::Conditional { branches } => {
                let index = self.branch_index(
                    out,
                    indent,
                    &instr.operands[0],
                    branches.len(),
                    &name_of,
                    &shape_of,
                );
                let args: Vec<String> = instr.operands[1..].iter().map(name_of).collect();
                let op = OpText::new("stablehlo.case", results.clone())
                    .operand(index, Shape::scalar(DType::I32));
                let regions = branches
                    .iter()
                    .map(|&b| (b, RegionArgs::Captured(args.clone())))
                    .collect();
                self.with_regions(op, regions, indent)?
            }
            Op::HostCallback { id, .. } => {
                return Err(unsupported(&format!(
                    "cannot export a host callback (callback id {id}): StableHLO has no \
                     equivalent of a closure living in this process"
                )))
            }
        };
        Ok(self.emit(out, indent, op))
    }

    /// Appends scalar start indices, converted to i64 when their types differ
    /// (StableHLO wants one index type).
    fn start_indices(
        &mut self,
        out: &mut String,
        indent: usize,
        mut op: OpText,
        starts: &[Value],
        name_of: &dyn Fn(&Value) -> String,
        shape_of: &dyn Fn(&Value) -> Shape,
    ) -> OpText {
        let same = starts
            .windows(2)
            .all(|w| shape_of(&w[0]).dtype == shape_of(&w[1]).dtype);
        for v in starts {
            let shape = shape_of(v);
            if same || shape.dtype == DType::I64 {
                op = op.operand(name_of(v), shape);
            } else {
                let x = self.convert(out, indent, name_of(v), &shape, DType::I64);
                op = op.operand(x, Shape::scalar(DType::I64));
            }
        }
        op
    }

    /// The `stablehlo.case` index: an i32 clamped into `[0, n)` (oxla clamps a
    /// negative index to branch 0, StableHLO would run the last branch); a bool
    /// becomes 0 or 1.
    fn branch_index(
        &mut self,
        out: &mut String,
        indent: usize,
        index: &Value,
        n: usize,
        name_of: &dyn Fn(&Value) -> String,
        shape_of: &dyn Fn(&Value) -> Shape,
    ) -> String {
        let mut shape = shape_of(index);
        let mut x = name_of(index);
        if shape.dtype == DType::Bool {
            x = self.convert(out, indent, x, &shape, DType::I32);
            shape = shape.with_dtype(DType::I32);
        }
        let lo = self.splat(out, indent, &shape, Literal::scalar_i128(shape.dtype, 0));
        let hi = self.splat(
            out,
            indent,
            &shape,
            Literal::scalar_i128(shape.dtype, n as i128 - 1),
        );
        let clamp = OpText::new("stablehlo.clamp", vec![shape.clone()])
            .operand(lo, shape.clone())
            .operand(x, shape.clone())
            .operand(hi, shape.clone());
        let x = self.emit(out, indent, clamp).remove(0);
        if shape.dtype == DType::I32 {
            x
        } else {
            self.convert(out, indent, x, &shape, DType::I32)
        }
    }
}

/// The op printing a unary op (Exp2 is expanded separately).
fn unary_name(u: UnaryOp) -> &'static str {
    use UnaryOp::*;
    match u {
        Neg => "stablehlo.negate",
        Abs => "stablehlo.abs",
        Sign => "stablehlo.sign",
        Floor => "stablehlo.floor",
        Ceil => "stablehlo.ceil",
        RoundNearestAfz => "stablehlo.round_nearest_afz",
        RoundNearestEven => "stablehlo.round_nearest_even",
        Exp | Exp2 => "stablehlo.exponential",
        Expm1 => "stablehlo.exponential_minus_one",
        Log => "stablehlo.log",
        Log1p => "stablehlo.log_plus_one",
        Sqrt => "stablehlo.sqrt",
        Rsqrt => "stablehlo.rsqrt",
        Cbrt => "stablehlo.cbrt",
        Sin => "stablehlo.sine",
        Cos => "stablehlo.cosine",
        Tan => "stablehlo.tan",
        Tanh => "stablehlo.tanh",
        Logistic => "stablehlo.logistic",
        IsFinite => "stablehlo.is_finite",
        Not => "stablehlo.not",
        PopulationCount => "stablehlo.popcnt",
        Asin => "chlo.asin",
        Acos => "chlo.acos",
        Atan => "chlo.atan",
        Sinh => "chlo.sinh",
        Cosh => "chlo.cosh",
        Asinh => "chlo.asinh",
        Acosh => "chlo.acosh",
        Atanh => "chlo.atanh",
        Erf => "chlo.erf",
        Erfc => "chlo.erfc",
        ErfInv => "chlo.erf_inv",
        Lgamma => "chlo.lgamma",
        Digamma => "chlo.digamma",
    }
}

fn binary_name(b: BinaryOp) -> &'static str {
    use BinaryOp::*;
    match b {
        Add => "stablehlo.add",
        Sub => "stablehlo.subtract",
        Mul => "stablehlo.multiply",
        Div => "stablehlo.divide",
        Rem => "stablehlo.remainder",
        Pow => "stablehlo.power",
        Max => "stablehlo.maximum",
        Min => "stablehlo.minimum",
        Atan2 => "stablehlo.atan2",
        NextAfter => "chlo.next_after",
        And => "stablehlo.and",
        Or => "stablehlo.or",
        Xor => "stablehlo.xor",
        ShiftLeft => "stablehlo.shift_left",
        ShiftRightLogical => "stablehlo.shift_right_logical",
        ShiftRightArithmetic => "stablehlo.shift_right_arithmetic",
    }
}

/// StableHLO's comparison type for operands of `dtype`.
fn compare_type(dtype: DType, total_order: bool) -> &'static str {
    if dtype.is_float() {
        if total_order {
            "TOTALORDER"
        } else {
            "FLOAT"
        }
    } else if dtype.is_signed_int() {
        "SIGNED"
    } else {
        "UNSIGNED"
    }
}

fn gather_dims(d: &GatherDims, index_vector_dim: usize) -> String {
    format!(
        "#stablehlo.gather<offset_dims = {}, collapsed_slice_dims = {}, \
         operand_batching_dims = {}, start_indices_batching_dims = {}, \
         start_index_map = {}, index_vector_dim = {index_vector_dim}>",
        bracket_list(&d.offset_dims),
        bracket_list(&d.collapsed_slice_dims),
        bracket_list(&d.operand_batching_dims),
        bracket_list(&d.start_indices_batching_dims),
        bracket_list(&d.start_index_map)
    )
}

fn scatter_dims(d: &ScatterDims, index_vector_dim: usize) -> String {
    format!(
        "#stablehlo.scatter<update_window_dims = {}, inserted_window_dims = {}, \
         input_batching_dims = {}, scatter_indices_batching_dims = {}, \
         scatter_dims_to_operand_dims = {}, index_vector_dim = {index_vector_dim}>",
        bracket_list(&d.update_window_dims),
        bracket_list(&d.inserted_window_dims),
        bracket_list(&d.input_batching_dims),
        bracket_list(&d.scatter_indices_batching_dims),
        bracket_list(&d.scatter_dims_to_operand_dims)
    )
}

/// `#stablehlo.conv<[b, f, 0, 1]x[o, i, 0, 1]->[b, f, 0, 1]>`.
fn conv_dims(d: &ConvDims) -> String {
    let labels = |a: (usize, &str), b: (usize, &str), spatial: &[usize]| {
        let mut s = vec![String::new(); spatial.len() + 2];
        s[a.0] = a.1.to_string();
        s[b.0] = b.1.to_string();
        for (i, &p) in spatial.iter().enumerate() {
            s[p] = i.to_string();
        }
        format!("[{}]", s.join(", "))
    };
    format!(
        "#stablehlo.conv<{}x{}->{}>",
        labels(
            (d.input_batch, "b"),
            (d.input_feature, "f"),
            &d.input_spatial
        ),
        labels(
            (d.kernel_output_feature, "o"),
            (d.kernel_input_feature, "i"),
            &d.kernel_spatial
        ),
        labels(
            (d.output_batch, "b"),
            (d.output_feature, "f"),
            &d.output_spatial
        )
    )
}
