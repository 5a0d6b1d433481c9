"""The ground floor: the words every other module speaks.

Identifiers (:mod:`.ids`), points and money (:mod:`.amounts`), instants and
days (:mod:`.instants`), the one frozen base model (:mod:`.frozen`) and the
YAML reader the data files share (:mod:`.yaml_file`). Nothing here imports
from the rest of the package except :mod:`loyalty_accounts.errors`; every
other module may import from here.
"""
