//! safetensors checkpoints: PyTorch's files load, save -> load -> save is byte-identical, and
//! truncated, corrupted and mismatched files are refused with the path and the tensor, leaving
//! the module and any existing file untouched.

mod common;

use common::{fixture, fixtures_dir, SeedNet, SmallVgg};
use fovea_nn::{Error, Linear, ModuleExt, Sequential};
use std::path::{Path, PathBuf};

/// A fresh folder, deleted when the returned guard drops.
fn scratch(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("fovea-ckpt-{name}-"))
        .tempdir()
        .unwrap()
}

fn values(m: &dyn fovea_nn::Module) -> Vec<Vec<f32>> {
    m.state_dict()
        .iter()
        .map(|(_, t)| t.to_vec().unwrap())
        .collect()
}

/// A checkpoint of the seed Net in Fovea's own format, from PyTorch's `init.*` weights.
fn seed_checkpoint(dir: &Path) -> PathBuf {
    let net = SeedNet::new();
    let fx = fixture("seed_net_torch.safetensors");
    for (name, t) in net.state_dict() {
        let want = &fx[&format!("init.{name}")];
        t.set_data(fovea_device::Array::from_slice(&t.device(), &want.data, &want.shape).unwrap())
            .unwrap();
    }
    let path = dir.join("seed.safetensors");
    net.save_safetensors(&path).unwrap();
    path
}

#[test]
fn save_load_save_is_byte_identical_and_keeps_pytorch_dtypes() {
    let tmp = scratch("roundtrip");
    let dir = tmp.path().to_path_buf();
    let a = SmallVgg::new(0.5);
    // Non-trivial buffers: one training-mode pass moves the running statistics.
    a.call(&fovea_nn::Tensor::new(
        fovea_device::Array::rand(&fovea_device::Device::cpu(), &[2, 1, 28, 28], 1).unwrap(),
    ))
    .unwrap();
    let first = dir.join("a.safetensors");
    a.save_safetensors(&first).unwrap();
    let b = SmallVgg::new(0.5);
    assert_ne!(values(&a), values(&b));
    b.load_safetensors(&first).unwrap();
    assert_eq!(values(&a), values(&b));
    let second = dir.join("b.safetensors");
    b.save_safetensors(&second).unwrap();
    let (x, y) = (
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap(),
    );
    assert!(x == y, "save -> load -> save changed the bytes");
    // What PyTorch writes: F32 tensors, int64 num_batches_tracked, no temp file left behind.
    let header =
        String::from_utf8_lossy(&x[8..8 + u64::from_le_bytes(x[..8].try_into().unwrap()) as usize])
            .to_string();
    assert!(
        header.contains(r#""features.1.num_batches_tracked":{"dtype":"I64","shape":[]"#),
        "{header}"
    );
    assert!(header.contains(r#""format":"pt""#), "{header}");
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn pytorch_fixture_files_load_with_their_prefixes_stripped() {
    let tmp = scratch("pytorch");
    let dir = tmp.path().to_path_buf();
    let path = seed_checkpoint(&dir);
    let net = SeedNet::new();
    net.load_safetensors(&path).unwrap();
    let fx = fixture("seed_net_torch.safetensors");
    assert_eq!(net.fc1.weight.to_vec().unwrap(), fx["init.fc1.weight"].data);
    // The fixture itself holds init./grad./step1. keys: strict loading lists them all.
    let err = net
        .load_safetensors(fixtures_dir().join("seed_net_torch.safetensors"))
        .unwrap_err()
        .to_string();
    for key in [
        "conv1.weight",
        "init.conv1.weight",
        "step1.fc1.bias",
        "loss_trajectory",
    ] {
        assert!(err.contains(key), "{err}");
    }
}

#[test]
fn truncated_and_corrupted_files_are_refused_with_path_and_tensor() {
    let tmp = scratch("corrupt");
    let dir = tmp.path().to_path_buf();
    let good = seed_checkpoint(&dir);
    let bytes = std::fs::read(&good).unwrap();
    let net = SeedNet::new();
    let before = values(&net);

    let truncated = dir.join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() - 1000]).unwrap();
    let err = net.load_safetensors(&truncated).unwrap_err();
    assert!(matches!(err, Error::Checkpoint { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains(&truncated.display().to_string()) && msg.contains("tensor fc1.weight"),
        "{msg}"
    );
    assert!(msg.contains("truncated"), "{msg}");

    let header_cut = dir.join("header_cut.safetensors");
    std::fs::write(&header_cut, &bytes[..40]).unwrap();
    let msg = net.load_safetensors(&header_cut).unwrap_err().to_string();
    assert!(
        msg.contains("header_cut.safetensors") && msg.contains("header"),
        "{msg}"
    );

    // A header that lies about a tensor's size.
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8(bytes[8..8 + n].to_vec()).unwrap();
    let lying = header.replacen("[32,1,5,5]", "[32,1,5,4]", 1);
    assert_ne!(lying, header);
    let mut corrupt = bytes.clone();
    corrupt[8..8 + n].copy_from_slice(lying.as_bytes());
    let corrupted = dir.join("corrupted.safetensors");
    std::fs::write(&corrupted, &corrupt).unwrap();
    let msg = net.load_safetensors(&corrupted).unwrap_err().to_string();
    assert!(
        msg.contains("corrupted.safetensors") && msg.contains("tensor conv1.weight"),
        "{msg}"
    );

    let garbage = dir.join("garbage.safetensors");
    let mut g = bytes.clone();
    g[8] = b'#';
    std::fs::write(&garbage, &g).unwrap();
    let msg = net.load_safetensors(&garbage).unwrap_err().to_string();
    assert!(
        msg.contains("garbage.safetensors") && msg.contains("not valid JSON"),
        "{msg}"
    );

    let missing = net
        .load_safetensors(dir.join("nope.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("nope.safetensors") && missing.contains("cannot read"),
        "{missing}"
    );
    assert_eq!(values(&net), before, "a failed load changed the module");
}

#[test]
fn mismatches_are_reported_all_at_once() {
    let tmp = scratch("mismatch");
    let dir = tmp.path().to_path_buf();
    let path = seed_checkpoint(&dir);
    // The course's bug: fc1 declared with 128 inputs.
    let wrong = SeedNet::with_fc_in(128);
    let before = values(&wrong);
    let err = wrong.load_safetensors(&path).unwrap_err();
    let Error::StateDict(m) = &err else {
        panic!("{err}")
    };
    assert_eq!(
        m.wrong_shape,
        [("fc1.weight".to_string(), vec![10, 128], vec![10, 4608])]
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string())
            && msg.contains(
                "fc1.weight has shape [10, 4608] in the file but [10, 128] in the module"
            ),
        "{msg}"
    );
    assert_eq!(
        values(&wrong),
        before,
        "nothing loads unless everything fits"
    );
    // Even non-strict loading refuses a wrong shape, as PyTorch does.
    assert!(wrong.load_safetensors_non_strict(&path).is_err());

    // Another architecture: every missing and unexpected name at once.
    let other = Sequential::new().add(Linear::new(4608, 10));
    let err = other.load_safetensors(&path).unwrap_err();
    let Error::StateDict(m) = &err else {
        panic!("{err}")
    };
    assert_eq!(m.missing, ["0.bias", "0.weight"]);
    assert_eq!(
        m.unexpected,
        ["conv1.bias", "conv1.weight", "fc1.bias", "fc1.weight"]
    );

    // Non-strict: load what fits, report the rest.
    let partial = Sequential::new();
    let report = partial.load_safetensors_non_strict(&path).unwrap();
    assert_eq!(report.unexpected.len(), 4);
}

#[test]
fn a_failed_save_leaves_the_old_file() {
    let tmp = scratch("atomic");
    let dir = tmp.path().to_path_buf();
    let path = seed_checkpoint(&dir);
    let old = std::fs::read(&path).unwrap();
    // Saving into a folder that does not exist fails without touching anything else.
    let err = SeedNet::new()
        .save_safetensors(dir.join("missing/x.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("missing/x.safetensors") && err.contains("cannot write"),
        "{err}"
    );
    // Saving over a directory fails at the rename; the temp file is cleaned up.
    let blocker = dir.join("blocker.safetensors");
    std::fs::create_dir_all(blocker.join("inside")).unwrap();
    assert!(SeedNet::new().save_safetensors(&blocker).is_err());
    assert!(blocker.join("inside").is_dir());
    assert_eq!(std::fs::read(&path).unwrap(), old);
    // Nothing but the two targets: no temporary file was left by either failure.
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["blocker.safetensors", "seed.safetensors"]);
}
