//! The tape: each recorded op keeps an edge to each input and a backward closure over what it
//! saved. An edge keeps a leaf that needs a gradient, and otherwise only the node that made
//! the input, so an intermediate value lives on only if some backward rule saved it (ReLU
//! keeps its output, not its input). Backward walks the ops in reverse topological order,
//! frees each op's saved buffers once it has run, and hands gradients to the leaves. Also:
//! `no_grad` scopes and backward-rule overrides.

use crate::error::{Error, Result};
use crate::op::Op;
use crate::tensor::{Inner, Origin, Tensor};
use fovea_device::Array;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::sync::{Arc, Mutex, Weak};

/// What an op's backward rule returns: one gradient per input, `None` where the input does
/// not need one.
pub type InputGrads = Vec<Option<Array>>;

/// An op's built-in backward rule: from the output's gradient and which inputs need one.
pub(crate) type BackwardFn = Box<dyn FnOnce(&Array, &[bool]) -> Result<InputGrads> + Send + Sync>;

/// One recorded op.
pub(crate) struct Node {
    pub(crate) op: Op,
    inputs: Mutex<Vec<Edge>>,
    /// The inputs the backward rule reads, each with its storage version when recorded.
    saved: Mutex<Vec<SavedInput>>,
    /// The output, for ops whose rule reads it (kept for version checks and overrides).
    saved_output: Mutex<Option<(Array, u64)>>,
    backward: Mutex<Option<BackwardFn>>,
}

/// How backward reaches one input of an op.
struct Edge {
    id: u64,
    shape: Vec<usize>,
    requires_grad: bool,
    /// the input itself when it is a leaf that needs a gradient (it receives it)
    leaf: Option<Tensor>,
    /// the node that made the input, when an op did
    node: Option<Arc<Node>>,
    /// the input, weakly: for `retain_grad`, messages and overrides while the caller holds it
    weak: Weak<Inner>,
}

impl Edge {
    fn new(t: &Tensor) -> Edge {
        Edge {
            id: t.id(),
            shape: t.shape().to_vec(),
            requires_grad: t.requires_grad(),
            leaf: (t.is_leaf() && t.requires_grad()).then(|| t.clone()),
            node: t.0.node.clone(),
            weak: Arc::downgrade(&t.0),
        }
    }

    /// The input tensor, if it is still alive.
    fn tensor(&self) -> Option<Tensor> {
        self.leaf
            .clone()
            .or_else(|| self.weak.upgrade().map(Tensor))
    }
}

/// An input value a backward rule reads, and the storage version it had when it was saved.
struct SavedInput {
    index: usize,
    value: Array,
    version: u64,
}

thread_local! {
    static NO_GRAD: Cell<usize> = const { Cell::new(0) };
    static OVERRIDES: RefCell<Vec<(Op, Rc<OverrideFn>)>> = const { RefCell::new(Vec::new()) };
}

/// Whether ops are being recorded on this thread (false inside [`no_grad`]).
pub fn is_grad_enabled() -> bool {
    NO_GRAD.with(|c| c.get() == 0)
}

/// While alive, ops on this thread are not recorded (`with torch.no_grad():`).
pub struct NoGradGuard {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl NoGradGuard {
    /// Starts a no-grad scope that ends when the guard drops.
    #[allow(clippy::new_without_default)]
    pub fn new() -> NoGradGuard {
        NO_GRAD.with(|c| c.set(c.get() + 1));
        NoGradGuard {
            _not_send: std::marker::PhantomData,
        }
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        NO_GRAD.with(|c| c.set(c.get() - 1));
    }
}

/// Runs `f` without recording (inference, evaluation, parameter updates).
pub fn no_grad<T>(f: impl FnOnce() -> T) -> T {
    let _g = NoGradGuard::new();
    f()
}

/// What a replacement backward rule sees.
pub struct BackwardContext<'a> {
    /// the op, e.g. [`Op::Relu`]
    pub op: Op,
    /// the op's input values, in call order, where still held: the inputs its rule saved,
    /// leaves, and tensors the caller still holds (`None` for a freed intermediate)
    pub inputs: &'a [Option<Array>],
    /// the op's output value, for ops whose rule reads it (ReLU)
    pub output: Option<&'a Array>,
    /// the gradient arriving at the op's output
    pub grad_output: &'a Array,
    /// which inputs need a gradient
    pub needs_grad: &'a [bool],
}

/// A replacement backward rule: one gradient per input (`None` where not needed).
pub type OverrideFn = dyn Fn(&BackwardContext) -> Result<InputGrads>;

/// While alive, backward passes on this thread use `rule` instead of the built-in backward of
/// every `op` (nested overrides stack; the innermost wins). The op is typed, so a misspelt
/// one does not compile. This is how guided
/// backpropagation replaces ReLU's rule:
///
/// ```no_run
/// # use fovea_graph::{override_backward, guided_relu_backward, Op, Tensor};
/// # fn demo(x: &Tensor, score: &Tensor) -> fovea_graph::Result<()> {
/// let _guided = override_backward(Op::Relu, guided_relu_backward);
/// score.backward()?; // x.grad() now holds guided-backprop gradients
/// # Ok(()) }
/// ```
///
/// The rule applies to backward passes run while the guard lives, whenever the ops were
/// recorded; dropping the guard restores the built-in rule.
pub fn override_backward(
    op: Op,
    rule: impl Fn(&BackwardContext) -> Result<InputGrads> + 'static,
) -> OverrideGuard {
    OVERRIDES.with(|o| o.borrow_mut().push((op, Rc::new(rule))));
    OverrideGuard {
        _not_send: std::marker::PhantomData,
    }
}

/// Ends a backward-rule override when dropped. See [`override_backward`].
pub struct OverrideGuard {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for OverrideGuard {
    fn drop(&mut self) {
        OVERRIDES.with(|o| o.borrow_mut().pop());
    }
}

fn override_for(op: Op) -> Option<Rc<OverrideFn>> {
    OVERRIDES.with(|o| {
        o.borrow()
            .iter()
            .rev()
            .find(|(name, _)| *name == op)
            .map(|(_, r)| r.clone())
    })
}

/// Guided backpropagation's ReLU rule (Springenberg et al.): the gradient passes only where
/// both the ReLU's input and the incoming gradient are positive (the input is positive
/// exactly where the output is, which is what ReLU keeps).
pub fn guided_relu_backward(ctx: &BackwardContext) -> Result<InputGrads> {
    let x = ctx.output.or(ctx.inputs[0].as_ref()).ok_or_else(|| {
        Error::autograd(
            "guided_relu_backward",
            format!(
                "`{}` kept neither its output nor its input; apply this rule to ReLU",
                ctx.op
            ),
        )
    })?;
    let g = ctx.grad_output;
    let zero = Array::scalar(x.device(), 0.0)?;
    let pass = x.gt(&zero)?.mul(&g.gt(&zero)?)?;
    Ok(vec![Some(g.mul(&pass)?)])
}

/// Makes the output tensor of op `op` from its value. It is recorded (given a node holding
/// `inputs` and `backward`) when grad is enabled and some input requires grad. The backward
/// rule may read every input's value; see [`record_saving`] for ops that read fewer.
pub(crate) fn record(
    op: Op,
    value: Array,
    inputs: &[&Tensor],
    backward: impl FnOnce(&Array, &[bool]) -> Result<InputGrads> + Send + Sync + 'static,
) -> Result<Tensor> {
    record_saving(op, value, inputs, &vec![true; inputs.len()], backward)
}

/// [`record`] for an op whose backward rule reads the values of only the inputs marked in
/// `saves` (input `i` is read when `saves[i]`; missing entries count as not read). Backward
/// refuses to run the rule if one of those values was updated in place since, as PyTorch
/// does.
pub(crate) fn record_saving(
    op: Op,
    value: Array,
    inputs: &[&Tensor],
    saves: &[bool],
    backward: impl FnOnce(&Array, &[bool]) -> Result<InputGrads> + Send + Sync + 'static,
) -> Result<Tensor> {
    record_full(op, value, inputs, saves, false, backward)
}

/// [`record_saving`] for an op whose rule also reads its output (`saves_output`): the output's
/// version is checked as the saved inputs' are, and overrides see it.
pub(crate) fn record_full(
    op: Op,
    value: Array,
    inputs: &[&Tensor],
    saves: &[bool],
    saves_output: bool,
    backward: impl FnOnce(&Array, &[bool]) -> Result<InputGrads> + Send + Sync + 'static,
) -> Result<Tensor> {
    let origin = inputs.first().map(|t| Origin {
        op: op.name(),
        input_shape: t.shape().to_vec(),
    });
    let track = is_grad_enabled() && inputs.iter().any(|t| t.requires_grad());
    let node = track.then(|| {
        Arc::new(Node {
            op,
            inputs: Mutex::new(inputs.iter().map(|t| Edge::new(t)).collect()),
            saved: Mutex::new(
                inputs
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| saves.get(*i).copied().unwrap_or(false))
                    .map(|(index, t)| {
                        let value = t.array();
                        SavedInput {
                            index,
                            version: value.version(),
                            value,
                        }
                    })
                    .collect(),
            ),
            saved_output: Mutex::new(saves_output.then(|| (value.clone(), value.version()))),
            backward: Mutex::new(Some(Box::new(backward) as BackwardFn)),
        })
    });
    Ok(Tensor::build(value, node, origin))
}

/// An op's output on the way back: its id, its node, and the tensor weakly.
type Step = (u64, Arc<Node>, Weak<Inner>);

/// The ops reachable from `root`, each after all the ops it depends on.
fn topo_order(root: Step) -> Vec<Step> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    let mut stack: Vec<(Step, bool)> = vec![(root, false)];
    while let Some((step, expanded)) = stack.pop() {
        if expanded {
            order.push(step);
            continue;
        }
        if !seen.insert(step.0) {
            continue;
        }
        let inputs: Vec<Step> = step
            .1
            .inputs
            .lock()
            .expect("tape lock poisoned")
            .iter()
            .filter(|e| !seen.contains(&e.id))
            .filter_map(|e| Some((e.id, e.node.clone()?, e.weak.clone())))
            .collect();
        stack.push((step, true));
        stack.extend(inputs.into_iter().map(|s| (s, false)));
    }
    order
}

pub(crate) fn run_backward(root: &Tensor, seed: Array) -> Result<()> {
    let Some(root_node) = root.0.node.clone() else {
        return root.accumulate_grad(seed);
    };
    let mut order = topo_order((root.id(), root_node, Arc::downgrade(&root.0)));
    let mut pending: HashMap<u64, Array> = HashMap::from([(root.id(), seed)]);
    while let Some((id, node, weak)) = order.pop() {
        let Some(g) = pending.remove(&id) else {
            continue;
        };
        if let Some(t) = weak.upgrade().map(Tensor) {
            if t.keeps_grad() {
                t.accumulate_grad(g.clone())?;
            }
        }
        let rule = node.backward.lock().expect("tape lock poisoned").take();
        let inputs = std::mem::take(&mut *node.inputs.lock().expect("tape lock poisoned"));
        let Some(rule) = rule else {
            return Err(Error::autograd(
                "backward",
                format!(
                    "the graph through `{}` was already used by a backward pass and its buffers freed; recompute the forward pass",
                    node.op
                ),
            ));
        };
        let saved = std::mem::take(&mut *node.saved.lock().expect("tape lock poisoned"));
        let output = node.saved_output.lock().expect("tape lock poisoned").take();
        check_versions(node.op, &inputs, &saved, output.as_ref())?;
        let needs: Vec<bool> = inputs.iter().map(|e| e.requires_grad).collect();
        let grads = match override_for(node.op) {
            Some(custom) => {
                drop(rule);
                let mut values: Vec<Option<Array>> = inputs
                    .iter()
                    .map(|e| e.tensor().map(|t| t.array()))
                    .collect();
                for s in &saved {
                    values[s.index] = Some(s.value.clone());
                }
                custom(&BackwardContext {
                    op: node.op,
                    inputs: &values,
                    output: output.as_ref().map(|(v, _)| v),
                    grad_output: &g,
                    needs_grad: &needs,
                })?
            }
            None => {
                drop((saved, output));
                rule(&g, &needs)?
            }
        };
        drop(g);
        for ((input, grad), need) in inputs.iter().zip(grads).zip(needs) {
            let Some(grad) = grad.filter(|_| need) else {
                continue;
            };
            if grad.shape() != input.shape.as_slice() {
                return Err(Error::autograd(
                    "backward",
                    format!(
                        "the backward rule of `{}` returned a gradient of shape {:?} for an input of shape {:?}",
                        node.op,
                        grad.shape(),
                        input.shape
                    ),
                ));
            }
            if let Some(leaf) = &input.leaf {
                leaf.accumulate_grad(grad)?;
            } else if input.node.is_some() {
                let slot = pending.remove(&input.id);
                pending.insert(
                    input.id,
                    match slot {
                        Some(old) => old.add(&grad)?,
                        None => grad,
                    },
                );
            }
        }
    }
    Ok(())
}

fn check_versions(
    op: Op,
    inputs: &[Edge],
    saved: &[SavedInput],
    output: Option<&(Array, u64)>,
) -> Result<()> {
    let stale = |value: &Array, version: u64, what: String| {
        Err(Error::autograd(
            "backward",
            format!(
                "one of the variables needed for gradient computation has been modified by an \
                 inplace operation: `{op}` saved {what} at version {version}, and it is now at \
                 version {}; run the forward pass again after the update, or call `opt.step()` \
                 only after `backward()`",
                value.version()
            ),
        ))
    };
    if let Some((value, version)) = output.filter(|(v, at)| v.version() != *at) {
        return stale(
            value,
            *version,
            format!("its output (shape {:?})", value.shape()),
        );
    }
    let Some(s) = saved.iter().find(|s| s.value.version() != s.version) else {
        return Ok(());
    };
    let input = &inputs[s.index];
    let what = match input.tensor().and_then(|t| t.name()) {
        Some(name) => format!("`{name}`"),
        None if input.node.is_none() => "a leaf tensor".to_string(),
        None => "a computed tensor".to_string(),
    };
    stale(
        &s.value,
        s.version,
        format!(
            "its input {} ({what}, shape {:?})",
            s.index,
            s.value.shape()
        ),
    )
}
