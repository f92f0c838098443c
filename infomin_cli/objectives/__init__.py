from infomin_cli.objectives.infonce import OBJECTIVES, NCEOutput, info_nce

__all__ = ["OBJECTIVES", "NCEOutput", "info_nce"]
