//! Building HLO modules, in the style of XLA's builder.
//!
//! Each op method infers the result shape with [`infer_shapes`] and panics with a
//! message naming the op and the operand shapes when they are invalid: a builder
//! misuse is a programmer error.
//!
//! ```
//! use oxla::{Builder, DType, Shape, BinaryOp};
//! let mut b = Builder::new("axpy");
//! let x = b.parameter(Shape::new(DType::F32, [3]));
//! let y = b.parameter(Shape::new(DType::F32, [3]));
//! let two = b.constant_f64(DType::F32, 2.0);
//! let two = b.broadcast_in_dim(two, &[3], &[]);
//! let ax = b.binary(BinaryOp::Mul, two, x);
//! let out = b.binary(BinaryOp::Add, ax, y);
//! let module = b.finish(&[out]);
//! assert_eq!(module.entry_computation().instrs.len(), 6);
//! ```

use super::ir::*;
use super::verify::infer_shapes;
use crate::{DType, Literal, Shape};

/// Builds one [`Module`]: the entry computation plus regions.
pub struct Builder {
    name: String,
    /// Finished computations; their positions are their [`CompId`]s.
    done: Vec<Computation>,
    /// Computations being built; the last one receives new instructions.
    stack: Vec<Computation>,
}

impl Builder {
    /// A builder whose entry computation is named `main`.
    pub fn new(name: &str) -> Builder {
        Builder {
            name: name.to_string(),
            done: Vec::new(),
            stack: vec![empty_computation("main")],
        }
    }

    fn current(&self) -> &Computation {
        self.stack
            .last()
            .expect("builder has a current computation")
    }

    fn current_mut(&mut self) -> &mut Computation {
        self.stack
            .last_mut()
            .expect("builder has a current computation")
    }

    /// The shape of a value of the current computation.
    pub fn shape(&self, v: Value) -> &Shape {
        self.current().shape(v)
    }

    /// Adds parameter number `params.len()` of the current computation.
    pub fn parameter(&mut self, shape: Shape) -> Value {
        let index = self.current().params.len();
        self.current_mut().params.push(shape);
        self.add(Op::Parameter { index }, &[])
    }

    /// Adds an instruction and returns all its results.
    pub fn add_multi(&mut self, op: Op, operands: &[Value]) -> Vec<Value> {
        let comp = self.current();
        let operand_shapes: Vec<&Shape> = operands.iter().map(|&v| comp.shape(v)).collect();
        let shapes = match infer_shapes(&op, &operand_shapes, &comp.params, &self.done) {
            Ok(s) => s,
            Err(e) => {
                let shapes: Vec<String> = operand_shapes.iter().map(|s| s.to_string()).collect();
                panic!(
                    "oxla builder: invalid {} with operands ({}): {}",
                    op.name(),
                    shapes.join(", "),
                    e
                )
            }
        };
        let comp = self.current_mut();
        let instr = comp.instrs.len();
        let n = shapes.len();
        comp.instrs.push(Instr {
            op,
            operands: operands.to_vec(),
            shapes,
        });
        (0..n).map(|index| Value { instr, index }).collect()
    }

    /// Adds a single-result instruction.
    pub fn add(&mut self, op: Op, operands: &[Value]) -> Value {
        let name = op.name();
        let results = self.add_multi(op, operands);
        assert_eq!(
            results.len(),
            1,
            "oxla builder: {name} has {} results",
            results.len()
        );
        results[0]
    }

    /// Builds a region (a sub-computation) with the given parameter shapes.
    pub fn region(
        &mut self,
        name: &str,
        params: &[Shape],
        body: impl FnOnce(&mut Builder, &[Value]) -> Vec<Value>,
    ) -> CompId {
        self.stack.push(empty_computation(name));
        let args: Vec<Value> = params.iter().map(|s| self.parameter(s.clone())).collect();
        let results = body(self, &args);
        let mut comp = self.stack.pop().expect("region on the stack");
        comp.results = results;
        let id = CompId(self.done.len());
        self.done.push(comp);
        id
    }

    /// A region combining two scalars of `dtype` with a binary op (for reduce/scatter).
    pub fn scalar_binary_region(&mut self, op: BinaryOp, dtype: DType) -> CompId {
        let s = Shape::scalar(dtype);
        self.region(op.name(), &[s.clone(), s], |b, p| {
            vec![b.binary(op, p[0], p[1])]
        })
    }

    /// Finishes the entry computation with `results` and returns the module.
    pub fn finish(mut self, results: &[Value]) -> Module {
        assert_eq!(self.stack.len(), 1, "oxla builder: finish inside a region");
        let mut entry = self.stack.pop().expect("entry computation");
        entry.results = results.to_vec();
        let entry_id = CompId(self.done.len());
        self.done.push(entry);
        Module {
            name: self.name,
            computations: self.done,
            entry: entry_id,
        }
    }

    // ---- conveniences -------------------------------------------------------------

    pub fn constant(&mut self, lit: Literal) -> Value {
        self.add(Op::Constant(lit), &[])
    }

    /// A scalar constant of `dtype` (converted from f64).
    pub fn constant_f64(&mut self, dtype: DType, v: f64) -> Value {
        self.constant(Literal::scalar_f64(dtype, v))
    }

    /// A scalar constant of `dtype` (converted from i128, wrapping).
    pub fn constant_i128(&mut self, dtype: DType, v: i128) -> Value {
        self.constant(Literal::scalar_i128(dtype, v))
    }

    /// A constant of `shape` with every element `v`.
    pub fn full_f64(&mut self, shape: &Shape, v: f64) -> Value {
        let c = self.constant_f64(shape.dtype, v);
        self.broadcast_in_dim(c, &shape.dims, &[])
    }

    pub fn iota(&mut self, shape: Shape, dim: usize) -> Value {
        self.add(Op::Iota { shape, dim }, &[])
    }

    pub fn unary(&mut self, op: UnaryOp, x: Value) -> Value {
        self.add(Op::Unary(op), &[x])
    }

    pub fn binary(&mut self, op: BinaryOp, x: Value, y: Value) -> Value {
        self.add(Op::Binary(op), &[x, y])
    }

    pub fn compare(&mut self, dir: CmpDir, x: Value, y: Value) -> Value {
        self.add(
            Op::Compare {
                dir,
                total_order: false,
            },
            &[x, y],
        )
    }

    pub fn select(&mut self, pred: Value, on_true: Value, on_false: Value) -> Value {
        self.add(Op::Select, &[pred, on_true, on_false])
    }

    pub fn convert(&mut self, x: Value, dtype: DType) -> Value {
        if self.shape(x).dtype == dtype {
            return x;
        }
        self.add(Op::Convert { dtype }, &[x])
    }

    pub fn broadcast_in_dim(
        &mut self,
        x: Value,
        out_dims: &[usize],
        broadcast_dims: &[usize],
    ) -> Value {
        self.add(
            Op::BroadcastInDim {
                out_dims: out_dims.to_vec(),
                broadcast_dims: broadcast_dims.to_vec(),
            },
            &[x],
        )
    }

    pub fn reshape(&mut self, x: Value, dims: &[usize]) -> Value {
        if self.shape(x).dims == dims {
            return x;
        }
        self.add(
            Op::Reshape {
                dims: dims.to_vec(),
            },
            &[x],
        )
    }

    pub fn transpose(&mut self, x: Value, perm: &[usize]) -> Value {
        self.add(
            Op::Transpose {
                perm: perm.to_vec(),
            },
            &[x],
        )
    }

    pub fn slice(
        &mut self,
        x: Value,
        start: &[usize],
        limit: &[usize],
        strides: &[usize],
    ) -> Value {
        self.add(
            Op::Slice {
                start: start.to_vec(),
                limit: limit.to_vec(),
                strides: strides.to_vec(),
            },
            &[x],
        )
    }

    /// Calls host callback `id` (see [`crate::runtime::callbacks`]) on `operands`;
    /// returns its results, of `results` shapes (possibly none). The instruction is
    /// kept and runs in program order even without results.
    pub fn host_callback(&mut self, id: u64, operands: &[Value], results: &[Shape]) -> Vec<Value> {
        self.add_multi(
            Op::HostCallback {
                id,
                results: results.to_vec(),
            },
            operands,
        )
    }

    /// Variadic reduce of `inputs` with `inits` over `dims` using `body`.
    pub fn reduce(
        &mut self,
        inputs: &[Value],
        inits: &[Value],
        dims: &[usize],
        body: CompId,
    ) -> Vec<Value> {
        let operands: Vec<Value> = inputs.iter().chain(inits).copied().collect();
        self.add_multi(
            Op::Reduce {
                dims: dims.to_vec(),
                body,
            },
            &operands,
        )
    }
}

fn empty_computation(name: &str) -> Computation {
    Computation {
        name: name.to_string(),
        params: Vec::new(),
        instrs: Vec::new(),
        results: Vec::new(),
    }
}
