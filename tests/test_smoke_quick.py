from tests.conftest import ds_xml


def test_cp_busybox(harness, images, hub, private_view, new_id):
    image_id = new_id()
    res = harness.ds("cp", ds_xml(image_id, path=f"docker://{images['busybox']}"), image_id)
    assert res.rc == 0, res.stderr
    assert res.stdout == f"onedock/image-{image_id} docker\n"
