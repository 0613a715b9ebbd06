"""VM_MAD=onedock: the lifecycle against the real engine, with NICs on a bridge the test makes."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import docker.errors
import pytest

from lab.documents import SERVE, drv, vm_xml  # noqa: F401
from tests.conftest import FRONTEND, HOST, HOST2, ds_xml
from tests.helpers import disk, purge, tags, vmdir


def get(ip: str, port: int, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{ip}:{port}/", timeout=1) as resp:
                return resp.read().decode().strip()
        except OSError as exc:
            last = exc
            time.sleep(0.05)
    raise AssertionError(f"{ip}:{port} not reachable: {last}")


def unreachable(ip: str, port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://{ip}:{port}/", timeout=0.5)
    except OSError:
        return True
    return False


def assert_one_veth(br, vmid: int) -> None:
    """Retries converge: the VM has exactly one host end on its bridge, no leftovers."""
    links = subprocess.run(["ip", "-o", "link", "show", "master", br.name], capture_output=True,
                           text=True).stdout
    assert links.count(f"one-{vmid}-0") == 1


def vmm(shims, action, *args, stdin=b""):
    return shims.vmm(action, *args, stdin=stdin)


def deploy(shims, vmid, xml, host=HOST):
    return vmm(shims, "deploy", f"/var/lib/one//datastores/0/{vmid}/deployment.0", host,
               str(vmid), host, stdin=xml.encode() + b"\n")


def test_deploy_reaches_every_port_at_the_nic_ip(shims, bridges, staged, image_source,
                                                 docker_client):
    vmid, br = staged, bridges[0]
    res = deploy(shims, vmid, vm_xml(vmid, image_source, br, 20))
    assert (res.rc, res.stdout, res.stderr) == (0, f"one-{vmid}\n", "")
    assert get(br.ip(20), 80) == str(vmid)
    assert get(br.ip(20), 8080) == str(vmid)
    box = docker_client.containers.get(f"one-{vmid}")
    hc = box.attrs["HostConfig"]
    assert hc["Memory"] == 128 << 20 and hc["NanoCpus"] == 1_000_000_000
    assert hc["CpuShares"] == 512 and hc["Privileged"] is False
    assert "no-new-privileges" in hc["SecurityOpt"] and "NET_RAW" in hc["CapDrop"]
    assert box.attrs["Config"]["Hostname"] == f"vm{vmid}"
    out = box.exec_run(["sh", "-c", "cat /sys/class/net/eth0/address; "
                        "cat /run/one-context/context.sh; cat /tmp/start-script-ran; "
                        "cat /root/.ssh/authorized_keys"]).output.decode()
    assert f"02:00:0a:d5:0a:{20:02x}" in out and f"HOSTNAME='vm{vmid}'" in out
    assert "started" in out and "ssh-ed25519 AAAA" in out


def test_lifecycle_keeps_the_writable_layer(shims, bridges, staged, image_source,
                                            docker_client, tmp_path):
    vmid, br = staged, bridges[0]
    xml = vm_xml(vmid, image_source, br, 21)
    data = drv(xml)
    dep = f"one-{vmid}"
    assert deploy(shims, vmid, xml).rc == 0
    box = docker_client.containers.get(dep)
    box.exec_run(["sh", "-c", "echo survived > /root/mark"])
    # poweroff then resume: a SHUTDOWN, later a DEPLOY again
    assert vmm(shims, "shutdown", dep, HOST, str(vmid), HOST, stdin=data).rc == 0
    assert docker_client.containers.get(dep).status == "exited"
    assert unreachable(br.ip(21), 80)
    assert deploy(shims, vmid, xml).rc == 0
    assert get(br.ip(21), 80) == str(vmid)
    for action in ("reboot", "reset"):
        res = vmm(shims, action, dep, HOST, str(vmid), HOST, stdin=data)
        assert res.rc == 0, res.stderr
        assert get(br.ip(21), 8080) == str(vmid)
    # suspend / resume
    checkpoint = tmp_path / "ds" / str(vmid) / "checkpoint"
    res = vmm(shims, "save", dep, str(checkpoint), HOST, str(vmid), HOST, stdin=data)
    assert res.rc == 0, res.stderr
    assert json.loads(checkpoint.read_text())["vmid"] == vmid
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(dep)
    res = vmm(shims, "restore", str(checkpoint), HOST, dep, str(vmid), HOST, stdin=data)
    assert res.rc == 0, res.stderr
    assert get(br.ip(21), 80) == str(vmid)
    box = docker_client.containers.get(dep)
    assert box.exec_run(["cat", "/root/mark"]).output.decode().strip() == "survived"
    # snapshots
    res = vmm(shims, "snapshot_create", dep, "0", str(vmid), HOST, stdin=data)
    assert (res.rc, res.stdout) == (0, "snap-0\n"), res.stderr
    box.exec_run(["sh", "-c", "echo later > /root/mark"])
    res = vmm(shims, "snapshot_revert", dep, "snap-0", str(vmid), HOST, stdin=data)
    assert res.rc == 0, res.stderr
    box = docker_client.containers.get(dep)
    assert box.exec_run(["cat", "/root/mark"]).output.decode().strip() == "survived"
    assert get(br.ip(21), 80) == str(vmid)
    assert vmm(shims, "snapshot_delete", dep, "snap-0", str(vmid), HOST, stdin=data).rc == 0
    assert f"one-{vmid}:snap-0" not in tags(docker_client, vmid)
    # hard poweroff, twice (already stopped is fine), then terminate's epilog
    for _ in range(2):
        assert vmm(shims, "cancel", dep, HOST, str(vmid), HOST, stdin=data).rc == 0
    assert shims.tm("delete", vmdir(vmid), str(vmid), "0").rc == 0
    assert vmm(shims, "shutdown", dep, HOST, str(vmid), HOST, stdin=data).rc == 0


def test_resize_live(shims, bridges, staged, image_source, docker_client):
    vmid, br = staged, bridges[0]
    assert deploy(shims, vmid, vm_xml(vmid, image_source, br, 22)).rc == 0
    bigger = vm_xml(vmid, image_source, br, 22, memory=256, cpu="1.5", vcpu=2)
    res = vmm(shims, "resize", f"one-{vmid}", str(vmid), HOST, stdin=drv(bigger))
    assert res.rc == 0, res.stderr
    hc = docker_client.containers.get(f"one-{vmid}").attrs["HostConfig"]
    assert hc["Memory"] == 256 << 20 and hc["NanoCpus"] == 2_000_000_000
    assert hc["CpuShares"] == 1536
    assert get(br.ip(22), 80) == str(vmid)


def test_hot_attach_and_detach_nic(shims, bridges, staged, image_source, docker_client):
    vmid, (br0, br1) = staged, bridges
    xml = vm_xml(vmid, image_source, br0, 23)
    assert deploy(shims, vmid, xml).rc == 0
    root = ET.fromstring(xml)
    nic = ET.SubElement(root.find("TEMPLATE"), "NIC")
    mac = "02:00:0a:d5:0b:17"
    for key, value in {"NIC_ID": "1", "BRIDGE": br1.name, "IP": br1.ip(23), "MAC": mac,
                       "TARGET": f"one-{vmid}-1", "ATTACH": "YES"}.items():
        ET.SubElement(nic, key).text = value
    data = drv(ET.tostring(root, encoding="unicode"))
    res = vmm(shims, "attach_nic", f"one-{vmid}", mac, br1.name, "-", "bridge",
              f"one-{vmid}-1", str(vmid), HOST, stdin=data)
    assert res.rc == 0, res.stderr
    assert get(br1.ip(23), 8080) == str(vmid)
    assert get(br0.ip(23), 80) == str(vmid)
    res = vmm(shims, "detach_nic", f"one-{vmid}", mac, str(vmid), HOST, stdin=data)
    assert res.rc == 0, res.stderr
    assert unreachable(br1.ip(23), 80)
    assert get(br0.ip(23), 80) == str(vmid)


def test_hot_attach_and_detach_disk(shims, bridges, staged, image_source, docker_client):
    vmid, br = staged, bridges[0]
    xml = vm_xml(vmid, image_source, br, 24)
    assert deploy(shims, vmid, xml).rc == 0
    assert shims.tm("mkimage", "16", "raw", disk(vmid, 2), str(vmid), "0").rc == 0
    attached = vm_xml(vmid, image_source, br, 24,
                      extra_disks=[(2, "vdb", {"ATTACH": "YES", "MOUNTPOINT": "/data/vdb"})])
    res = vmm(shims, "attach_disk", f"one-{vmid}", f"/var/lib/one//datastores/0/{vmid}/disk.2",
              "vdb", "1", "e30=", str(vmid), HOST, stdin=drv(attached))
    assert res.rc == 0, res.stderr
    box = docker_client.containers.get(f"one-{vmid}")
    assert box.exec_run(["sh", "-c", "echo hot > /data/vdb/f"]).exit_code == 0
    vol = docker_client.volumes.get(f"one-{vmid}-disk.2")
    check = docker_client.containers.run(
        box.image.id, ["cat", "/v/f"], remove=True, network_disabled=True,
        volumes={vol.name: {"bind": "/v"}}, entrypoint=[])
    assert check.decode().strip() == "hot"
    res = vmm(shims, "reboot", f"one-{vmid}", HOST, str(vmid), HOST, stdin=drv(attached))
    assert res.rc == 0, res.stderr
    assert box.exec_run(["cat", "/data/vdb/f"]).output.decode().strip() == "hot"  # still there
    res = vmm(shims, "detach_disk", f"one-{vmid}", f"/var/lib/one//datastores/0/{vmid}/disk.2",
              "vdb", "1", str(vmid), HOST, stdin=drv(attached))
    assert res.rc == 0, res.stderr
    assert box.exec_run(["cat", "/data/vdb/f"]).exit_code != 0
    assert shims.tm("delete", disk(vmid, 2), str(vmid), "0").rc == 0


def test_cold_migration_to_a_second_engine(shims, bridges, staged, image_source,
                                           docker_client, engine2):
    vmid, br = staged, bridges[0]
    xml = vm_xml(vmid, image_source, br, 25)
    assert deploy(shims, vmid, xml).rc == 0
    docker_client.containers.get(f"one-{vmid}").exec_run(["sh", "-c", "echo moved > /root/m"])
    res = vmm(shims, "migrate", f"one-{vmid}", HOST2, HOST, str(vmid), HOST,
              stdin=drv(xml, HOST, HOST2))
    assert res.rc == 0, res.stderr
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(f"one-{vmid}")
    box = engine2.client.containers.get(f"one-{vmid}")
    assert box.exec_run(["cat", "/root/m"]).output.decode().strip() == "moved"
    assert get(br.ip(25), 80) == str(vmid)


# -- bad input and faults ---------------------------------------------------------------------


def test_deploy_of_an_unstaged_image_leaves_nothing(shims, bridges, image_source, new_id,
                                                    docker_client):
    vmid = new_id()
    res = deploy(shims, vmid, vm_xml(vmid, image_source, bridges[0], 30, context_disk=-1))
    assert res.rc == 1
    assert "boot disk is not staged on this host" in res.error_line
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(f"one-{vmid}")


def test_deploy_on_a_missing_bridge_leaves_nothing(shims, staged, image_source,
                                                   docker_client):
    vmid = staged
    from lab.documents import Bridge

    ghost = Bridge.__new__(Bridge)
    ghost.name, ghost.net = "odtnobr", ipaddress.IPv4Network("10.213.99.0/24")
    ghost.gateway = "10.213.99.1"
    res = deploy(shims, vmid, vm_xml(vmid, image_source, ghost, 5))
    assert res.rc == 1
    assert "bridge 'odtnobr' does not exist on this host" in res.error_line
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(f"one-{vmid}")


def test_duplicate_ip_is_refused(shims, bridges, staged, image_source, new_id, docker_client,
                                 tmp_path):
    first, br = staged, bridges[0]
    assert deploy(shims, first, vm_xml(first, image_source, br, 31)).rc == 0
    second = new_id()
    try:
        assert shims.tm("clone", f"{FRONTEND}:{image_source}", disk(second, 0), str(second),
                          "1").rc == 0
        res = deploy(shims, second, vm_xml(second, image_source, br, 31, context_disk=-1))
        assert res.rc == 1
        assert f"IP {br.ip(31)} is already used by one-{first}" in res.error_line
        with pytest.raises(docker.errors.NotFound):
            docker_client.containers.get(f"one-{second}")
    finally:
        purge(docker_client, second)


def test_deploy_retried_converges(shims, bridges, staged, image_source, docker_client):
    vmid, br = staged, bridges[0]
    xml = vm_xml(vmid, image_source, br, 32)
    for _ in range(3):
        res = deploy(shims, vmid, xml)
        assert res.rc == 0, res.stderr
    assert get(br.ip(32), 80) == str(vmid)
    assert_one_veth(br, vmid)


def test_actions_on_a_missing_container(shims, new_id):
    vmid = new_id()
    data = drv(f"<VM><ID>{vmid}</ID><TEMPLATE/></VM>")
    for action in ("shutdown", "cancel"):
        res = vmm(shims, action, f"one-{vmid}", HOST, str(vmid), HOST, stdin=data)
        assert res.rc == 0, res.stderr  # already gone is what was asked
    res = vmm(shims, "reboot", f"one-{vmid}", HOST, str(vmid), HOST, stdin=data)
    assert res.rc == 1
    assert f"No such container: one-{vmid}" in res.error_line


def test_hostile_vmm_arguments(shims, new_id):
    res = vmm(shims, "shutdown", "one-1;reboot", HOST, "1", HOST, stdin=b"<x/>")
    assert res.rc == 1 and "not an onedock deploy id" in res.error_line
    res = vmm(shims, "deploy", "/x", HOST, "7", HOST, stdin=b"<VM><ID>8</ID></VM>")
    assert res.rc == 1 and "is for VM 8, not 7" in res.error_line
    res = vmm(shims, "deploy", "/x", HOST, "7", HOST, stdin=b"<!DOCTYPE x [<!ENTITY a 'b'>]>"
              b"<VM>&a;</VM>")
    assert res.rc == 1 and "forbidden XML" in res.error_line
    res = vmm(shims, "resize_disk", "one-1", "0", "10", "e30=", HOST, "1", HOST, stdin=b"")
    assert res.rc == 1 and "no fixed size" in res.error_line


def test_deploy_with_a_datablock_at_boot(shims, bridges, staged, image_source, docker_client,
                                         new_id):
    vmid, br = staged, bridges[0]
    block = new_id()
    assert shims.ds("mkfs", ds_xml(block, size=16, type_=2), block).rc == 0
    assert shims.tm("clone", f"{FRONTEND}:onedock/image-{block}", disk(vmid, 2), str(vmid),
                      "1").rc == 0
    xml = vm_xml(vmid, image_source, br, 26, extra_disks=[(2, "vdc", {"IMAGE_ID": block})])
    assert deploy(shims, vmid, xml).rc == 0
    box = docker_client.containers.get(f"one-{vmid}")
    assert box.exec_run(["sh", "-c", "echo boot > /mnt/vdc/f && cat /mnt/vdc/f"]) \
        .output.decode().strip() == "boot"


def test_twenty_deploys_at_once(shims, bridges, image_source, new_id, docker_client):
    br = bridges[1]
    vmids = [new_id() for _ in range(20)]
    try:
        for vmid in vmids:
            assert shims.tm("clone", f"{FRONTEND}:{image_source}", disk(vmid, 0), str(vmid),
                              "1").rc == 0
        script = shims.script("vmm", "deploy")
        procs = []
        for n, vmid in enumerate(vmids):
            proc = subprocess.Popen(
                [str(script), f"/var/lib/one//datastores/0/{vmid}/deployment.0", HOST,
                 str(vmid), HOST],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=shims.env)
            xml = vm_xml(vmid, image_source, br, 100 + n, context_disk=-1)
            proc.stdin.write(xml.encode() + b"\n")
            proc.stdin.close()
            procs.append(proc)
        for vmid, proc in zip(vmids, procs, strict=True):
            assert proc.wait(timeout=180) == 0, proc.stderr.read().decode()
            assert proc.stdout.read().decode() == f"one-{vmid}\n"
        for n, vmid in enumerate(vmids):
            assert get(br.ip(100 + n), 80) == str(vmid)
    finally:
        for vmid in vmids:
            purge(docker_client, vmid)


def test_deploy_killed_halfway_then_retried_converges(shims, bridges, staged, image_source,
                                                     docker_client):
    import signal

    vmid, br = staged, bridges[0]
    xml = vm_xml(vmid, image_source, br, 33)
    script = shims.script("vmm", "deploy")
    for delay in (0.15, 0.3):
        proc = subprocess.Popen([str(script), "/x/deployment.0", HOST, str(vmid), HOST],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=shims.env)
        proc.stdin.write(xml.encode() + b"\n")
        proc.stdin.close()
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    res = deploy(shims, vmid, xml)
    assert res.rc == 0, res.stderr
    assert get(br.ip(33), 80) == str(vmid)
    assert_one_veth(br, vmid)


def test_dockerd_restart_under_a_running_vm(shims, bridges, image_source, new_id, engine2,
                                            tmp_path):
    """Host 2's dockerd restarts: the VM stops (no restart policy), a new deploy resumes it."""
    vmid, br = new_id(), bridges[1]
    conf2 = tmp_path / "host2.conf"
    conf2.write_text(Path(shims.env["ONEDOCK_CONF"]).read_text().split("[hosts]")[0]
                     + f'local_docker = "{engine2.url}"\n[hosts]\n{HOST} = "{engine2.url}"\n')
    env = dict(shims.env, ONEDOCK_CONF=str(conf2))
    try:
        assert shims.tm("clone", f"{FRONTEND}:{image_source}", disk(vmid, 0), str(vmid), "1",
                          env=env).rc == 0
        xml = vm_xml(vmid, image_source, br, 60, context_disk=-1)
        run = lambda: shims.vmm("deploy", "/x", HOST, str(vmid), HOST,  # noqa: E731
                                stdin=xml.encode() + b"\n", env=env)
        assert run().rc == 0
        assert get(br.ip(60), 80) == str(vmid)
        engine2.stop()
        engine2.start()
        assert engine2.client.containers.get(f"one-{vmid}").status == "exited"
        assert unreachable(br.ip(60), 80)
        res = run()
        assert res.rc == 0, res.stderr
        assert get(br.ip(60), 80) == str(vmid)
    finally:
        purge(engine2.client, vmid)


# -- review findings: isolation holds against what a VM template can say ----------------------


def test_nic_target_from_the_template_cannot_name_a_host_interface(shims, bridges, staged,
                                                                     image_source):
    vmid, br = staged, bridges[0]
    xml = vm_xml(vmid, image_source, br, 34).replace(f"<TARGET>one-{vmid}-0</TARGET>",
                                                      f"<TARGET>{br.name}</TARGET>")
    assert deploy(shims, vmid, xml).rc == 0
    assert Path(f"/sys/class/net/{br.name}/bridge").is_dir()  # the bridge survived
    assert Path(f"/sys/class/net/one-{vmid}-0").exists()
    assert get(br.ip(34), 80) == str(vmid)


@pytest.mark.parametrize("attr,value,message", [
    ("DOCKER_PRIVILEGED", "YES", "are not allowed"),
    ("DOCKER_NO_NEW_PRIVILEGES", "NO", "are not allowed"),
    ("DOCKER_CAP_ADD", "SYS_ADMIN", "SYS_ADMIN is not allowed on this host"),
])
def test_isolation_opt_ins_need_the_administrator(shims, bridges, staged, image_source,
                                                  docker_client, attr, value, message):
    vmid = staged
    root = ET.fromstring(vm_xml(vmid, image_source, bridges[0], 35))
    ET.SubElement(root.find("USER_TEMPLATE"), attr).text = value
    res = deploy(shims, vmid, ET.tostring(root, encoding="unicode"))
    assert res.rc == 1 and message in res.error_line
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(f"one-{vmid}")


def test_a_deploy_time_disk_is_not_detached_live(shims, bridges, staged, image_source):
    vmid, br = staged, bridges[0]
    assert shims.tm("mkimage", "8", "raw", disk(vmid, 2), str(vmid), "0").rc == 0
    xml = vm_xml(vmid, image_source, br, 36, extra_disks=[(2, "vdb", {})])
    assert deploy(shims, vmid, xml).rc == 0
    res = vmm(shims, "detach_disk", f"one-{vmid}", f"/var/lib/one//datastores/0/{vmid}/disk.2",
              "vdb", "1", str(vmid), HOST, stdin=drv(xml))
    assert res.rc == 1 and "power the VM off to detach it" in res.error_line


def test_root_helper_refuses_the_host_and_foreign_interfaces():
    from onedock.errors import OneDockError
    from onedock.helper.requests import NicSpec
    from onedock.helper.root import run

    with pytest.raises(OneDockError, match="shares the host's net namespace"):
        run({"op": "detach", "pid": os.getpid(), "mac": "02:00:00:00:00:01"})
    with pytest.raises(OneDockError, match="not an onedock veth name"):
        NicSpec(0, "br0", "02:00:00:00:00:01", "10.0.0.2", 24, "", "eth0").check()
    with pytest.raises(OneDockError, match="container init pid is required"):
        run({"op": "mount", "pid": True, "volume": "one-1-disk.1", "target": "/x"})


def test_committed_images_do_not_carry_the_context(shims, bridges, staged, image_source,
                                                   docker_client):
    vmid, br = staged, bridges[0]
    root = ET.fromstring(vm_xml(vmid, image_source, br, 37))
    ET.SubElement(root.find("TEMPLATE/CONTEXT"), "PASSWORD").text = "s3cret-value"
    xml = ET.tostring(root, encoding="unicode")
    assert deploy(shims, vmid, xml).rc == 0
    res = vmm(shims, "snapshot_create", f"one-{vmid}", "3", str(vmid), HOST, stdin=drv(xml))
    assert res.rc == 0, res.stderr
    env = docker_client.images.get(f"one-{vmid}:snap-3").attrs["Config"]["Env"]
    assert "PASSWORD=" in env and not any("s3cret" in e for e in env)
    box = docker_client.containers.get(f"one-{vmid}")
    assert "PASSWORD=s3cret-value" in box.attrs["Config"]["Env"]  # the running VM keeps it


def test_image_volumes_survive_a_rebuild_and_go_with_the_vm(shims, bridges, images, hub,
                                                            docker_client, new_id):
    """An image that declares VOLUME /srv/db keeps that data across container rebuilds."""
    box = docker_client.containers.create(images["busybox"], ["true"], network_disabled=True)
    ref = f"{hub.host}/onedock-test/withvolume"
    box.commit(repository=ref, tag="latest", conf={"Volumes": {"/srv/db": {}}})
    box.remove()
    docker_client.images.push(ref, tag="latest")
    image_id, vmid, br = new_id(), new_id(), bridges[0]
    try:
        assert shims.ds("cp", ds_xml(image_id, path=f"docker://{ref}:latest"), image_id).rc == 0
        source = f"onedock/image-{image_id}"
        assert shims.tm("clone", f"{FRONTEND}:{source}", disk(vmid, 0), str(vmid), "1").rc == 0
        xml = vm_xml(vmid, source, br, 38, context_disk=-1)
        assert deploy(shims, vmid, xml).rc == 0
        docker_client.containers.get(f"one-{vmid}").exec_run(["sh", "-c", "echo kept > /srv/db/f"])
        assert vmm(shims, "shutdown", f"one-{vmid}", HOST, str(vmid), HOST,
                   stdin=drv(xml)).rc == 0
        bigger = vm_xml(vmid, source, br, 38, memory=192, context_disk=-1)  # forces a rebuild
        assert deploy(shims, vmid, bigger).rc == 0
        out = docker_client.containers.get(f"one-{vmid}").exec_run(["cat", "/srv/db/f"])
        assert out.output.decode().strip() == "kept"
        assert shims.tm("delete", vmdir(vmid), str(vmid), "0").rc == 0
        left = docker_client.volumes.list(filters={"label": f"org.opennebula.onedock.vmid={vmid}"})
        assert left == []
    finally:
        purge(docker_client, vmid)
