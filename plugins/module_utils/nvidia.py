# -*- coding: utf-8 -*-
# Copyright: (c) 2026, inferops.vllm contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""NVIDIA GPU facts from nvidia-smi output, CDI specifications and the host topology.

Pure functions (no subprocesses, no Ansible): the nvidia_gpu_info module runs nvidia-smi and reads
files, these functions turn the text into facts and list what does not agree.

- ``nvidia-smi --query-gpu=...`` prints PCI bus ids as ``00000000:18:00.0`` (8-digit domain, upper
  case hex on some drivers); sysfs and the cpu_topology facts use ``0000:18:00.0``.
  :func:`normalize_pci_address` maps both to the sysfs form, which is the join key.
- The NUMA node of a GPU is not in nvidia-smi's CSV output: it comes from the topology facts
  (``topology.gpus[].numa_node``) or from sysfs.
- A CDI specification (``nvidia-ctk cdi generate``) is YAML or JSON; only ``kind`` and
  ``devices[].name`` are read, with a small line parser for the YAML that nvidia-ctk writes, so
  that managed nodes need no PyYAML.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import csv
import json
import os
import re

# The columns asked of nvidia-smi, in order. memory.total is MiB with ``nounits``.
QUERY_FIELDS = ('index', 'uuid', 'name', 'memory.total', 'pci.bus_id', 'driver_version', 'persistence_mode')
# Values nvidia-smi prints for a field it cannot report.
_NOT_AVAILABLE = ('', 'n/a', '[n/a]', '[not supported]', 'not supported', '[unknown error]', '[insufficient permissions]')
_PCI_RE = re.compile(r'^(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$')
_CUDA_RE = re.compile(r'CUDA\s+Version\s*:\s*([0-9]+(?:\.[0-9]+)*)', re.IGNORECASE)
_DRIVER_RE = re.compile(r'DRIVER\s+version\s*:\s*([0-9]+(?:\.[0-9]+)*)', re.IGNORECASE)
_HEADER_DRIVER_RE = re.compile(r'Driver\s+Version\s*:\s*([0-9]+(?:\.[0-9]+)*)')
# The default CDI device names of nvidia-ctk: index ("0"), uuid ("GPU-..."), old index form ("gpu0").
CDI_ALL_DEVICE = 'all'


class NvidiaError(Exception):
    """Input that cannot be turned into facts (malformed nvidia-smi output or CDI spec)."""


def query_args():
    """The nvidia-smi arguments whose output :func:`parse_query_gpu` reads."""
    return ['--query-gpu=' + ','.join(QUERY_FIELDS), '--format=csv,noheader,nounits']


def normalize_pci_address(address):
    """``00000000:1B:00.0`` / ``0000:1b:00.0`` / ``1b:00.0`` -> ``0000:1b:00.0`` (the sysfs form).

    Raises NvidiaError for anything that is not a PCI address.
    """
    text = str(address or '').strip()
    match = _PCI_RE.match(text)
    if not match:
        raise NvidiaError('not a PCI address: %r (expected DOMAIN:BUS:DEVICE.FUNCTION such as 0000:18:00.0)' % text)
    domain, bus, device, function = match.groups()
    return '%04x:%02x:%02x.%x' % (int(domain or '0', 16), int(bus, 16), int(device, 16), int(function, 16))


def _value(raw):
    text = raw.strip()
    return None if text.lower() in _NOT_AVAILABLE else text


def _int(raw, field, lineno):
    text = _value(raw)
    if text is None:
        return None
    try:
        return int(float(text))
    except ValueError:
        raise NvidiaError('nvidia-smi line %d: %s is %r, not a number' % (lineno, field, raw.strip()))


def _persistence(raw):
    text = (_value(raw) or '').lower()
    if text == 'enabled':
        return True
    if text == 'disabled':
        return False
    return None


def parse_query_gpu(text):
    """Rows of ``nvidia-smi --query-gpu=<QUERY_FIELDS> --format=csv,noheader,nounits`` as dicts.

    Blank lines are skipped. A line with another number of columns (an error message such as
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver", or a query
    made with other fields) raises NvidiaError quoting it. Sorted by index.
    """
    gpus = []
    numbered = [(n, line) for n, line in enumerate((text or '').splitlines(), 1) if line.strip()]
    rows = csv.reader([pair[1] for pair in numbered], skipinitialspace=True)
    for lineno, row in zip([pair[0] for pair in numbered], rows):
        if len(row) != len(QUERY_FIELDS):
            raise NvidiaError('nvidia-smi line %d has %d fields, expected %d (%s): %r'
                              % (lineno, len(row), len(QUERY_FIELDS), ','.join(QUERY_FIELDS), ','.join(row)))
        values = dict(zip(QUERY_FIELDS, row))
        index = _int(values['index'], 'index', lineno)
        if index is None:
            raise NvidiaError('nvidia-smi line %d has no GPU index: %r' % (lineno, ','.join(row)))
        bus_id = _value(values['pci.bus_id'])
        try:
            pci_address = normalize_pci_address(bus_id)
        except NvidiaError as exc:
            raise NvidiaError('nvidia-smi line %d: %s' % (lineno, exc))
        gpus.append({
            'index': index,
            'uuid': _value(values['uuid']),
            'name': _value(values['name']),
            'memory_mib': _int(values['memory.total'], 'memory.total', lineno),
            'pci_address': pci_address,
            'driver_version': _value(values['driver_version']),
            'persistence_mode': _persistence(values['persistence_mode']),
        })
    indices = [gpu['index'] for gpu in gpus]
    if len(set(indices)) != len(indices):
        raise NvidiaError('nvidia-smi listed GPU index %s more than once' % sorted(i for i in indices if indices.count(i) > 1)[0])
    return sorted(gpus, key=lambda gpu: gpu['index'])


# Power columns sampled during the gate (host_telemetry): the board's draw in W (on Ampere and later a one-second
# average, on older boards an instantaneous reading). nvidia-smi has no energy-counter field: the board's counter
# is NVML's nvmlDeviceGetTotalEnergyConsumption only, and asking --query-gpu for total_energy_consumption fails
# the whole query (driver 580.159.04 on an H200: 'Field "total_energy_consumption" is not a valid field to
# query.', rc 2), so GPU energy is the power draw integrated over the samples.
POWER_FIELDS = ('index', 'power.draw')


def power_query_args():
    """The nvidia-smi arguments whose output :func:`parse_power_query` reads."""
    return ['--query-gpu=' + ','.join(POWER_FIELDS), '--format=csv,noheader,nounits']


def _float(raw, field, lineno):
    text = _value(raw)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        raise NvidiaError('nvidia-smi line %d: %s is %r, not a number' % (lineno, field, raw.strip()))


def parse_power_query(text):
    """Rows of ``nvidia-smi --query-gpu=<POWER_FIELDS> --format=csv,noheader,nounits``:
    ``[{index, power_w}]`` sorted by index; a draw nvidia-smi cannot report is None."""
    gpus = []
    numbered = [(n, line) for n, line in enumerate((text or '').splitlines(), 1) if line.strip()]
    rows = csv.reader([pair[1] for pair in numbered], skipinitialspace=True)
    for lineno, row in zip([pair[0] for pair in numbered], rows):
        if len(row) != len(POWER_FIELDS):
            raise NvidiaError('nvidia-smi line %d has %d fields, expected %d (%s): %r'
                              % (lineno, len(row), len(POWER_FIELDS), ','.join(POWER_FIELDS), ','.join(row)))
        index = _int(row[0], 'index', lineno)
        if index is None:
            raise NvidiaError('nvidia-smi line %d has no GPU index: %r' % (lineno, ','.join(row)))
        gpus.append({'index': index, 'power_w': _float(row[1], 'power.draw', lineno)})
    return sorted(gpus, key=lambda gpu: gpu['index'])


def parse_cuda_version(text):
    """The CUDA version the driver supports, from ``nvidia-smi --version`` or nvidia-smi's banner; else None."""
    match = _CUDA_RE.search(text or '')
    return match.group(1) if match else None


def parse_driver_version(text):
    """The driver version from ``nvidia-smi --version`` ("DRIVER version : 580.95.05") or the banner; else None."""
    for regex in (_DRIVER_RE, _HEADER_DRIVER_RE):
        match = regex.search(text or '')
        if match:
            return match.group(1)
    return None


def topology_numa_nodes(topology):
    """``{pci_address: numa_node}`` from cpu_topology facts (``topology.gpus``), normalised addresses."""
    nodes = {}
    for gpu in (topology or {}).get('gpus') or []:
        try:
            address = normalize_pci_address(gpu.get('pci_address'))
        except NvidiaError:
            continue
        node = gpu.get('numa_node')
        nodes[address] = None if node is None or int(node) < 0 else int(node)
    return nodes


def topology_gpu_addresses(topology):
    """Normalised PCI addresses of the NVIDIA GPUs (vendor 0x10de, display class 0x03xxxx) in topology facts."""
    addresses = []
    for gpu in (topology or {}).get('gpus') or []:
        vendor = str(gpu.get('vendor_id', '0x10de')).lower()
        klass = str(gpu.get('class', '0x03')).lower()
        if vendor not in ('0x10de', '10de', '4318') or not klass.startswith('0x03'):
            continue
        try:
            addresses.append(normalize_pci_address(gpu.get('pci_address')))
        except NvidiaError:
            continue
    return sorted(addresses)


def sysfs_numa_reader(root='/'):
    """A numa_reader for build_facts: the NUMA node sysfs gives a PCI address (None when unknown: -1 or unreadable)."""
    def read(address):
        path = os.path.join(root, 'sys/bus/pci/devices', address, 'numa_node')
        try:
            with open(path) as handle:
                node = int(handle.read().strip())
        except (IOError, OSError, ValueError):
            return None
        return node if node >= 0 else None
    return read


def build_facts(query_text, version_text=None, topology=None, numa_reader=None):
    """Facts for the role: ``{driver_version, cuda_version, count, gpus: [...]}``.

    query_text: output of nvidia-smi with :func:`query_args`.
    version_text: output of ``nvidia-smi --version`` or of plain ``nvidia-smi`` (for the CUDA version).
    topology: cpu_topology facts; their ``gpus`` give each GPU's NUMA node by PCI address.
    numa_reader: callable(pci_address) -> int or None, used for GPUs the topology does not list.
    """
    gpus = parse_query_gpu(query_text)
    drivers = sorted(set(gpu['driver_version'] for gpu in gpus if gpu['driver_version']))
    if len(drivers) > 1:
        raise NvidiaError('nvidia-smi reports several driver versions (%s): a driver update is half applied; reboot'
                          % ', '.join(drivers))
    nodes = topology_numa_nodes(topology)
    facts_gpus = []
    for gpu in gpus:
        node = nodes.get(gpu['pci_address'])
        if gpu['pci_address'] not in nodes and numa_reader is not None:
            node = numa_reader(gpu['pci_address'])
        facts_gpus.append({
            'index': gpu['index'],
            'uuid': gpu['uuid'],
            'name': gpu['name'],
            'memory_mib': gpu['memory_mib'],
            'pci_address': gpu['pci_address'],
            'numa_node': node,
            'persistence_mode': gpu['persistence_mode'],
        })
    return {
        'driver_version': drivers[0] if drivers else parse_driver_version(version_text),
        'cuda_version': parse_cuda_version(version_text),
        'count': len(facts_gpus),
        'gpus': facts_gpus,
    }


def _scalar(text):
    """A YAML scalar as nvidia-ctk writes it: plain, 'single' or "double" quoted."""
    text = text.strip()
    if ' #' in text and not text.startswith(('"', "'")):
        text = text.split(' #', 1)[0].rstrip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in ('"', "'"):
        inner = text[1:-1]
        return inner.replace("''", "'") if text[0] == "'" else inner.replace('\\"', '"').replace('\\\\', '\\')
    return text


def _parse_cdi_yaml(text):
    """``(kind, [device names])`` from a CDI spec in block YAML (either sequence indentation style)."""
    kind = None
    names = []
    in_devices = False
    item_indent = None
    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.lstrip()
        if not stripped or stripped.startswith('#') or stripped in ('---', '...'):
            continue
        indent = len(line) - len(stripped)
        if indent == 0 and not stripped.startswith('- '):
            in_devices = stripped.split(':', 1)[0].strip() == 'devices'
            item_indent = None
            if stripped.startswith('kind:'):
                kind = _scalar(stripped[len('kind:'):])
            if in_devices and _scalar(stripped.split(':', 1)[1]) in ('[]',):
                in_devices = False
            continue
        if not in_devices:
            continue
        if stripped.startswith('- ') or stripped == '-':
            if item_indent is None:
                item_indent = indent
            if indent == item_indent:
                rest = stripped[1:].lstrip()
                if rest.startswith('name:'):
                    names.append(_scalar(rest[len('name:'):]))
                continue
        if item_indent is not None and indent == item_indent + 2 and stripped.startswith('name:'):
            names.append(_scalar(stripped[len('name:'):]))
    return kind, names


def parse_cdi_spec(text):
    """``{'kind': 'nvidia.com/gpu', 'devices': [names]}`` from a CDI spec (JSON or nvidia-ctk's YAML)."""
    body = (text or '').strip()
    if not body:
        raise NvidiaError('the CDI specification is empty')
    if body.startswith('{'):
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise NvidiaError('the CDI specification is not valid JSON: %s' % exc)
        devices = data.get('devices') or []
        if not isinstance(devices, list):
            raise NvidiaError('the CDI specification has no devices list')
        return {'kind': data.get('kind'), 'devices': [str(d.get('name')) for d in devices if isinstance(d, dict) and 'name' in d]}
    kind, names = _parse_cdi_yaml(body)
    if kind is None:
        raise NvidiaError('the CDI specification has no top-level kind (is it a CDI spec?)')
    return {'kind': kind, 'devices': names}


def cdi_gpu_names(gpu):
    """Names under which nvidia-ctk may list a GPU: index, uuid, and the old gpuN form."""
    names = [str(gpu['index']), 'gpu%d' % gpu['index']]
    if gpu.get('uuid'):
        names.append(gpu['uuid'])
    return names


def cdi_missing(gpus, spec):
    """GPUs (as ``index (uuid)`` strings) a parsed CDI spec does not name, plus ``all`` when absent."""
    names = set(spec.get('devices') or [])
    missing = ['%d (%s)' % (gpu['index'], gpu.get('uuid') or gpu['pci_address'])
               for gpu in gpus if not names.intersection(cdi_gpu_names(gpu))]
    if gpus and CDI_ALL_DEVICE not in names:
        missing.append(CDI_ALL_DEVICE)
    return missing


def compare(gpus, topology=None, plan=None):
    """Disagreements between nvidia-smi's GPUs, the PCI bus (topology facts) and an instance plan.

    - a GPU on the PCI bus that nvidia-smi does not list (fallen off the bus, driver not bound);
    - a planned GPU (``plan.instances[].gpus[]``) whose PCI address nvidia-smi does not list;
    - a planned GPU whose index differs from nvidia-smi's index for that PCI address (the plan's
      CUDA_VISIBLE_DEVICES would select another GPU).
    Returns a list of one-line messages (empty when everything agrees).
    """
    problems = []
    by_address = dict((gpu['pci_address'], gpu) for gpu in gpus)
    if topology is not None:
        for address in topology_gpu_addresses(topology):
            if address not in by_address:
                problems.append('GPU %s is on the PCI bus but nvidia-smi does not list it (driver not bound, or the GPU '
                                'fell off the bus: check dmesg for Xid errors)' % address)
    for instance in (plan or {}).get('instances') or []:
        name = instance.get('name', '?')
        for planned in instance.get('gpus') or []:
            try:
                address = normalize_pci_address(planned.get('pci_address'))
            except NvidiaError as exc:
                problems.append('plan instance %s: %s' % (name, exc))
                continue
            found = by_address.get(address)
            if found is None:
                problems.append('plan instance %s uses GPU %s (index %s), which nvidia-smi does not list'
                                % (name, address, planned.get('index')))
            elif planned.get('index') is not None and int(planned['index']) != found['index']:
                problems.append('plan instance %s expects GPU %s at index %s but nvidia-smi numbers it %d: '
                                'CUDA_VISIBLE_DEVICES would select another GPU (is CUDA_DEVICE_ORDER=PCI_BUS_ID set?)'
                                % (name, address, planned['index'], found['index']))
    return problems
