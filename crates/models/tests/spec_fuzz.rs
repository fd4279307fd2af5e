//! Property-based fuzzing of the architecture-spec parser: random text, random token soup
//! and mutated real specs (byte flips, truncation, insertion, deletion, shuffled layers)
//! never panic. Parsing ends in a spec or a one-line `arch spec: ...` error; a parsed spec
//! is checked against an input shape the same way; a spec that passes the check builds,
//! and a small one runs a forward pass on the CPU backend with the logits' shape.

use fovea_device::{Array, Device};
use fovea_models::{ArchSpec, Model};
use fovea_nn::{ModuleExt, Tensor};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// The spec files shipped in `assets/arch`, the seeds of the mutations.
fn shipped_specs() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/arch");
    let mut specs: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    // the same specs without their comments, so more mutations land in layers
    let bare: Vec<String> = specs
        .iter()
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    specs.extend(bare);
    assert!(specs.len() >= 3, "assets/arch holds the shipped specs");
    specs.extend(
        [
            "conv 8 k3 p1, bn, relu, pool 2, conv 16 k3 s2 p1, relu, avgpool 2 s1, flatten, \
             linear 32, relu, dropout 0.3, linear",
            "conv 4 k5, relu, adaptiveavgpool 3x2, fc 10",
            "maxpool 3 s2\nbatchnorm\nlinear 7\nrelu\nlinear # logits",
        ]
        .map(String::from),
    );
    specs
}

/// Words, numbers and options a spec may hold, and a few it should not.
const TOKENS: &[&str] = &[
    "conv",
    "bn",
    "batchnorm",
    "relu",
    "pool",
    "maxpool",
    "avgpool",
    "adaptiveavgpool",
    "dropout",
    "flatten",
    "linear",
    "fc",
    "0",
    "1",
    "2",
    "3",
    "10",
    "32",
    "k0",
    "k1",
    "k3",
    "k29",
    "s0",
    "s2",
    "p0",
    "p1",
    "p-1",
    "k",
    "0.5",
    "1.5",
    "NaN",
    "-1",
    "7x7",
    "0x3",
    "x",
    "4294967296",
    "99999999999999999999",
    "k18446744073709551615",
    "p9223372036854775807",
    "s18446744073709551615",
    "100000",
    ",",
    "\n",
    "#",
    "wobble",
    "assets/arch/missing.arch",
];

/// How a valid spec is damaged.
#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: usize, byte: u8 },
    Truncate(usize),
    Insert { at: usize, text: String },
    Delete { at: usize, len: usize },
    Shuffle(Vec<usize>),
    SwapTokens(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        any::<usize>().prop_map(Mutation::Truncate),
        (
            any::<usize>(),
            prop_oneof![
                proptest::sample::select(TOKENS).prop_map(|t| format!(" {t} ")),
                "[ -~]{1,6}",
            ]
        )
            .prop_map(|(at, text)| Mutation::Insert { at, text }),
        (any::<usize>(), 1usize..12).prop_map(|(at, len)| Mutation::Delete { at, len }),
        proptest::collection::vec(any::<usize>(), 1..8).prop_map(Mutation::Shuffle),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapTokens(a, b)),
    ]
}

fn mutate(text: &str, muts: &[Mutation]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for m in muts {
        let n = bytes.len().max(1);
        match m {
            Mutation::Flip { at, byte } => {
                if !bytes.is_empty() {
                    bytes[at % n] ^= byte;
                }
            }
            Mutation::Truncate(at) => bytes.truncate(at % (n + 1)),
            Mutation::Insert { at, text } => {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, text.bytes());
            }
            Mutation::Delete { at, len } => {
                let at = at % n;
                let end = (at + len).min(bytes.len());
                if at < end {
                    bytes.drain(at..end);
                }
            }
            Mutation::Shuffle(keys) => {
                let s = String::from_utf8_lossy(&bytes).into_owned();
                let mut items: Vec<&str> = s.split(',').collect();
                for (i, k) in keys.iter().enumerate() {
                    let len = items.len();
                    items.swap(i % len, k % len);
                }
                bytes = items.join(",").into_bytes();
            }
            Mutation::SwapTokens(a, b) => {
                let s = String::from_utf8_lossy(&bytes).into_owned();
                let mut toks: Vec<&str> = s.split(' ').collect();
                let len = toks.len();
                toks.swap(a % len, b % len);
                bytes = toks.join(" ").into_bytes();
            }
        }
    }
    // Invalid UTF-8 cannot reach the parser (the CLI reads `--arch` as a string).
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A clear error: one non-empty line naming the setting.
fn assert_clear(text: &str, e: &fovea_nn::Error) {
    let msg = e.to_string();
    assert!(
        msg.starts_with("arch spec: ") && msg.len() > "arch spec: ".len(),
        "`{text}`: the error should name the arch spec: {msg}"
    );
    assert!(!msg.contains('\n'), "`{text}`: one line: {msg}");
}

/// Parses, checks and (when small) builds and runs `text` for `input` and `classes`.
fn exercise(text: &str, input: (usize, usize, usize), classes: usize) {
    let spec = match ArchSpec::parse(text) {
        Ok(s) => s,
        Err(e) => return assert_clear(text, &e),
    };
    let params = match spec.check(input, classes) {
        Ok(p) => p,
        Err(e) => {
            assert_clear(text, &e);
            // build refuses exactly what check refuses, before allocating anything
            let built = spec.build(input, classes);
            assert!(built.is_err(), "`{text}`: check refused but build accepted");
            return;
        }
    };
    // Building allocates the weights: only for nets small enough to stay fast.
    if params > 300_000 {
        return;
    }
    let net = spec
        .build(input, classes)
        .unwrap_or_else(|e| panic!("`{text}` passed the check but did not build: {e}"));
    assert_eq!(net.num_parameters(), params, "`{text}`: parameter count");
    let (c, h, w) = input;
    if c * h * w * 2 > 1 << 16 {
        return;
    }
    let dev = Device::cpu();
    net.to_device(&dev).unwrap();
    net.eval();
    let x = Tensor::new(Array::from_slice(&dev, &vec![0.5; 2 * c * h * w], &[2, c, h, w]).unwrap());
    let mut taps: Vec<String> = Vec::new();
    let y = net
        .forward_taps(&x, &mut |name, _| taps.push(name.to_string()))
        .unwrap_or_else(|e| panic!("`{text}` built for {input:?} but its forward failed: {e}"));
    assert_eq!(y.shape(), &[2, classes], "`{text}`: logits");
    for name in net.layer_names() {
        assert!(
            taps.contains(&name),
            "`{text}`: layer {name} was not tapped"
        );
    }
}

/// A size: mostly small, sometimes 0 or huge.
fn size() -> impl Strategy<Value = String> {
    prop_oneof![
        24 => (1usize..6).prop_map(|n| n.to_string()),
        12 => (6usize..40).prop_map(|n| n.to_string()),
        1 => Just("0".to_string()),
        1 => prop_oneof![
            Just(100_000usize),
            Just(1 << 31),
            Just(usize::MAX / 3),
            Just(usize::MAX)
        ]
        .prop_map(|n| n.to_string()),
    ]
}

/// One layer written as a spec item, with sizes from [`size`].
fn layer() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (size(), size(), size(), size())
            .prop_map(|(o, k, s, p)| format!("conv {o} k{k} s{s} p{p}")),
        3 => size().prop_map(|o| format!("conv {o}")),
        3 => Just("bn".to_string()),
        3 => Just("relu".to_string()),
        3 => (size(), size()).prop_map(|(k, s)| format!("pool {k} s{s}")),
        1 => size().prop_map(|k| format!("avgpool {k}")),
        1 => (size(), size()).prop_map(|(h, w)| format!("adaptiveavgpool {h}x{w}")),
        1 => (0u32..12).prop_map(|d| format!("dropout 0.{d}")),
        1 => Just("flatten".to_string()),
        1 => size().prop_map(|n| format!("linear {n}")),
        1 => Just("linear".to_string()),
    ]
}

fn config() -> Config {
    Config {
        cases: 256,
        max_shrink_time: 5_000,
        failure_persistence: None,
        ..Config::default()
    }
}

fn input_shape() -> impl Strategy<Value = (usize, usize, usize)> {
    (
        prop_oneof![Just(1usize), Just(3)],
        prop_oneof![Just(28usize), 1usize..40],
        prop_oneof![Just(28usize), 1usize..40],
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_text_never_panics(text in any::<String>(), input in input_shape()) {
        exercise(&text, input, 10);
    }

    #[test]
    fn spec_like_text_never_panics(text in "[a-z0-9 ,#\\n.xkps-]{0,60}", input in input_shape()) {
        exercise(&text, input, 10);
    }

    #[test]
    fn token_soup_never_panics(
        toks in proptest::collection::vec(proptest::sample::select(TOKENS), 0..16),
        input in input_shape(),
        classes in 1usize..12,
    ) {
        exercise(&toks.join(" "), input, classes);
    }

    #[test]
    fn layer_sequences_never_panic(
        layers in proptest::collection::vec(layer(), 0..7),
        end in prop_oneof![4 => Just(", linear"), 1 => Just("")],
        input in input_shape(),
        classes in 1usize..12,
    ) {
        exercise(&(layers.join(", ") + end), input, classes);
    }

    #[test]
    fn mutated_specs_never_panic(
        which in any::<usize>(),
        muts in proptest::collection::vec(mutation(), 1..4),
        input in input_shape(),
    ) {
        let specs = shipped_specs();
        exercise(&mutate(&specs[which % specs.len()], &muts), input, 10);
    }
}

/// The seeds themselves parse, check and build (so the mutations start from valid specs).
#[test]
fn the_seed_specs_are_valid() {
    for s in shipped_specs() {
        let spec = ArchSpec::parse(&s).unwrap_or_else(|e| panic!("{s}: {e}"));
        spec.check((1, 28, 28), 10)
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
}

/// Each kind of error the fuzzer reaches, once, with the words a user needs.
#[test]
fn each_kind_of_bad_token_gets_a_clear_error() {
    let cases: &[(&str, &[&str])] = &[
        (
            "conv 4 k3, wobble, linear",
            &["unknown layer `wobble`", "known: conv OUT"],
        ),
        ("conv four, linear", &["`four` is not a whole number"]),
        ("conv 99999999999999999999, linear", &["is too large"]),
        ("conv, linear", &["give the output channels"]),
        ("conv 4 q3, linear", &["unknown option `q3`"]),
        (
            "conv 4 k0, linear",
            &["`conv 4 k0`", "kernel size `k0` must be at least 1"],
        ),
        ("conv 4 s0, linear", &["stride `s0` must be at least 1"]),
        (
            "conv 0, linear",
            &["output channel count `0` must be at least 1"],
        ),
        ("pool 0, linear", &["pool size `0` must be at least 1"]),
        ("linear 0, linear", &["output size `0` must be at least 1"]),
        (
            "adaptiveavgpool 0x3, linear",
            &["output height `0` must be at least 1"],
        ),
        ("relu 3, linear", &["too many arguments", "use `relu`"]),
        ("dropout 1.5, linear", &["not a probability"]),
        (
            "conv 4 k3, linear 10, relu",
            &["the last layer is `relu`", "must be `linear`"],
        ),
        (
            "linear 10, conv 4, linear",
            &["layer 2 (`conv 4 k3 s1 p0`)", "cannot follow"],
        ),
        (
            "conv 4 k29, linear",
            &["29x29 kernel does not fit the 28x28 map"],
        ),
        (
            "conv 4 k3, pool 30, linear",
            &["30x30 pool does not fit the 26x26 map"],
        ),
        ("conv 4 p9223372036854775807, linear", &["does not fit"]),
        (
            "conv 4 p100000000000000, linear",
            &["activations per image", "is more than"],
        ),
        (
            "conv 100000 k3, conv 100000 k3, linear",
            &["layer 2", "weights is more than"],
        ),
        ("linear 99999999999, linear", &["weights is more than"]),
        (
            "adaptiveavgpool 100000x100000, linear",
            &["activations per image"],
        ),
        ("linear 20", &["20 outputs for 10 classes"]),
        ("linear, linear", &["give the output size"]),
        ("", &["the spec has no layers"]),
        (" , # only a comment", &["the spec has no layers"]),
        (
            "runs/missing.arch",
            &["`runs/missing.arch` is neither a spec file that exists"],
        ),
    ];
    for (text, want) in cases {
        let e = match ArchSpec::parse(text).and_then(|s| s.check((1, 28, 28), 10)) {
            Ok(_) => panic!("`{text}` should be refused"),
            Err(e) => e,
        };
        assert_clear(text, &e);
        let msg = e.to_string();
        for w in *want {
            assert!(msg.contains(w), "`{text}`: {msg}\n  should say: {w}");
        }
    }
    // a refused spec is refused by build too, before any allocation
    assert!(ArchSpec::parse("linear 99999999999, linear")
        .unwrap()
        .build((1, 28, 28), 10)
        .is_err());
}
