"""Settings: the production guards that refuse the public local-development secrets."""

from __future__ import annotations

import pytest

from services.infra.settings import LOCAL_API_KEY_SECRET, Settings

PROD_CREDENTIALS_KEY = "k1:" + "A" * 43


def test_default_api_key_secret_refused_outside_local_mode():
    with pytest.raises(ValueError, match="AGENTLOOM_API_KEY_SECRET"):
        Settings(local_mode=False, jwt_secret="x" * 40, api_key_secret=LOCAL_API_KEY_SECRET,
                 credentials_keys=[PROD_CREDENTIALS_KEY])
    assert Settings(local_mode=False, jwt_secret="x" * 40, api_key_secret="y" * 40,
                    credentials_keys=[PROD_CREDENTIALS_KEY]).api_key_secret == "y" * 40
