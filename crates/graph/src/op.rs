//! The ops the tape records, as a typed key: what a backward override names
//! ([`override_backward`](crate::override_backward)), so a misspelt op fails to compile
//! instead of silently overriding nothing.

macro_rules! ops {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// An op the tape records; its [`name`](Op::name) is PyTorch's where one exists.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Op {
            $($(#[$doc])* $variant,)*
        }

        impl Op {
            /// The op's name in messages and `grad_fn`, e.g. `relu`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Op::$variant => $name,)*
                }
            }
        }
    };
}

ops! {
    /// `-x`
    Neg = "neg",
    /// `|x|`
    Abs = "abs",
    /// `e^x`
    Exp = "exp",
    /// natural logarithm
    Log = "log",
    /// square root
    Sqrt = "sqrt",
    /// hyperbolic tangent
    Tanh = "tanh",
    /// logistic sigmoid
    Sigmoid = "sigmoid",
    /// `max(x, 0)` (guided backpropagation overrides its rule)
    Relu = "relu",
    /// `x^p`
    Powf = "powf",
    /// `x + s`
    AddScalar = "add_scalar",
    /// `x * s`
    MulScalar = "mul_scalar",
    /// broadcasting `a + b`
    Add = "add",
    /// broadcasting `a - b`
    Sub = "sub",
    /// broadcasting `a * b`
    Mul = "mul",
    /// broadcasting `a / b`
    Div = "div",
    /// elementwise maximum of two tensors
    Maximum = "maximum",
    /// elementwise minimum of two tensors
    Minimum = "minimum",
    /// `where(cond, a, b)`
    Where = "where",
    /// sum over axes
    Sum = "sum",
    /// mean over axes
    Mean = "mean",
    /// maximum over axes
    Max = "max",
    /// minimum over axes
    Min = "min",
    /// softmax along an axis
    Softmax = "softmax",
    /// log-softmax along an axis
    LogSoftmax = "log_softmax",
    /// 2-D convolution
    Conv2d = "conv2d",
    /// 2-D max pooling
    MaxPool2d = "max_pool2d",
    /// 2-D average pooling
    AvgPool2d = "avg_pool2d",
    /// adaptive 2-D average pooling
    AdaptiveAvgPool2d = "adaptive_avg_pool2d",
    /// bilinear resize
    ResizeBilinear = "resize_bilinear",
    /// `x W^T + b`
    Linear = "linear",
    /// dropout
    Dropout = "dropout",
    /// 2-D batch normalisation
    BatchNorm2d = "batch_norm2d",
    /// reshape
    Reshape = "reshape",
    /// flatten
    Flatten = "flatten",
    /// permute axes
    Permute = "permute",
    /// swap two axes
    Transpose = "transpose",
    /// a slice along an axis
    Slice = "slice",
    /// concatenation
    Concat = "concat",
    /// zero padding
    Pad = "pad",
    /// (batched) matrix product
    Matmul = "matmul",
    /// softmax cross-entropy
    CrossEntropy = "cross_entropy",
    /// a copy on another device
    ToDevice = "to_device",
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
