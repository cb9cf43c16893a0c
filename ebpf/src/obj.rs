//! Shared plumbing: loading an embedded object, finding its programs and maps, reading
//! per-CPU counters.

use aya::maps::{Map, MapData, PerCpuArray};
use aya::{Ebpf, EbpfLoader};

use crate::EbpfError;

/// Loads an embedded BPF object (maps are created, programs are not yet loaded).
pub(crate) fn load_object(
    program: &'static str,
    bytes: &[u8],
    max_entries: &[(&'static str, u32)],
) -> Result<Ebpf, EbpfError> {
    let mut loader = EbpfLoader::new();
    for &(name, n) in max_entries {
        loader.map_max_entries(name, n);
    }
    loader.load(bytes).map_err(|source| EbpfError::Load {
        program,
        source: Box::new(source),
    })
}

/// Takes a map out of the object, converted to its typed aya wrapper.
pub(crate) fn take_map<T>(
    ebpf: &mut Ebpf,
    program: &'static str,
    name: &'static str,
) -> Result<T, EbpfError>
where
    T: TryFrom<Map, Error = aya::maps::MapError>,
{
    let map = ebpf.take_map(name).ok_or(EbpfError::Missing {
        program,
        what: "map",
        name,
    })?;
    T::try_from(map).map_err(|e| map_err(name, "opening", e))
}

pub(crate) fn missing_program(program: &'static str) -> EbpfError {
    EbpfError::Missing {
        program,
        what: "program",
        name: program,
    }
}

pub(crate) fn prog_err(
    program: &'static str,
    action: &'static str,
    source: aya::programs::ProgramError,
) -> EbpfError {
    EbpfError::Program {
        program,
        action,
        source: Box::new(source),
    }
}

pub(crate) fn map_err(
    map: &'static str,
    action: &'static str,
    source: aya::maps::MapError,
) -> EbpfError {
    EbpfError::Map {
        map,
        action,
        source: Box::new(source),
    }
}

/// Sums counter `index` of a per-CPU `u64` array over all CPUs.
pub(crate) fn sum_per_cpu(
    map: &PerCpuArray<MapData, u64>,
    name: &'static str,
    index: u32,
) -> Result<u64, EbpfError> {
    let values = map
        .get(&index, 0)
        .map_err(|e| map_err(name, "reading counters", e))?;
    Ok(values.iter().copied().fold(0u64, u64::wrapping_add))
}

/// Replaces the key set of a `u16 -> u8` port map with `ports`.
pub(crate) fn replace_ports(
    map: &mut aya::maps::HashMap<MapData, u16, u8>,
    name: &'static str,
    capacity: usize,
    ports: &[u16],
) -> Result<(), EbpfError> {
    let mut wanted: Vec<u16> = ports.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    if wanted.len() > capacity {
        return Err(EbpfError::InvalidConfig(format!(
            "{} ports given; the {name} map holds at most {capacity}",
            wanted.len()
        )));
    }
    let present: Vec<u16> = map
        .keys()
        .collect::<Result<_, _>>()
        .map_err(|e| map_err(name, "listing ports", e))?;
    for port in present {
        if wanted.binary_search(&port).is_err() {
            match map.remove(&port) {
                Ok(()) | Err(aya::maps::MapError::KeyNotFound) => {}
                Err(e) => return Err(map_err(name, "removing a port", e)),
            }
        }
    }
    for port in wanted {
        map.insert(port, 1u8, 0)
            .map_err(|e| map_err(name, "adding a port", e))?;
    }
    Ok(())
}
