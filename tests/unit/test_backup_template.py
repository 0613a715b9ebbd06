"""The VM template `oneimage restore` makes of an onedock backup (onedock.one.backup_template),
from the VM document oned hands the backup steps (protocol example E7)."""

from __future__ import annotations

from lab.documents import PROTOCOL
from onedock.one.backup_template import vm_template

VM = (PROTOCOL / "backup_tm_stdin.xml").read_bytes()


def test_the_vms_own_template_with_the_restored_images_and_nothing_oned_computed():
    text = vm_template(VM, [31, 32], name="42-restored", no_nic=False, no_ip=False)
    assert text.startswith('NAME = "42-restored"\n')
    assert 'DISK = [ IMAGE_ID = "31" ]' in text and 'DISK = [ IMAGE_ID = "32" ]' in text
    assert 'CPU = "0.5"' in text
    assert "AUTOMATIC_REQUIREMENTS" not in text and "SOURCE" not in text  # the old disk's
    assert 'IP = "192.168.150.100"' in text  # the NIC keeps its address unless NO_IP
    assert "ETH0_IP" not in text and "SSH_PUBLIC_KEY" in text  # oned derives ETHn_* again
    assert "BRIDGE" not in text


def test_no_nic_and_no_ip_as_oneimage_restore_passes_them():
    assert "NIC" not in vm_template(VM, [1], name="n", no_nic=True, no_ip=False)
    text = vm_template(VM, [1], name="n", no_nic=False, no_ip=True)
    assert "NIC = [" in text and "192.168.150.100" not in text.split("CONTEXT")[0]


def test_values_are_quoted_for_the_template_parser():
    doc = VM.replace(b"<NAME>alpine-42</NAME>", b"<NAME>x</NAME>").replace(
        b"<CPU>0.5</CPU>", b'<CPU>0.5</CPU><DESCRIPTION>say "hi" \\ bye</DESCRIPTION>')
    assert 'DESCRIPTION = "say \\"hi\\" \\\\ bye"' in vm_template(doc, [], name="n",
                                                                  no_nic=True, no_ip=True)
