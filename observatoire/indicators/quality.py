"""The data-quality checks of a count night: what the quality page lists under
« Avertissements », and what validating a night requires to be clean or signed off
(`observatoire.nights.validate_night`)."""

from __future__ import annotations

from observatoire.indicators.compute import campaign_coverage
from observatoire.indicators.inputs import IndicatorInputs


def night_warnings(inputs: IndicatorInputs, campaign_id: int) -> list[str]:
    """The night's data-quality warnings in French, one sentence each (empty: clean)."""
    warnings = []
    observations = inputs.of_campaign("observations", campaign_id)
    if not len(observations):
        warnings.append("Aucune fiche saisie pour cette nuit : le décompte de la rue est vide.")
    if not len(inputs.of_campaign("place_tallies", campaign_id)):
        warnings.append("Aucun décompte des partenaires (gares, métro, hôpitaux...) pour cette "
                        "nuit : le total a minima ne compte que la rue.")  # fmt: skip
    coverage = campaign_coverage(inputs, campaign_id)
    if len(coverage) and (coverage["couverture"] < 1).any():
        missing = int((coverage["prevus"] - coverage["parcourus"]).clip(lower=0).sum())
        warnings.append(f"Des secteurs prévus n'ont pas de compte rendu ({missing} secteur(s), "
                        "voir « Secteurs non couverts »).")  # fmt: skip
    already = (int((observations["situation"] == "already_answered").sum())
               if len(observations) else 0)  # fmt: skip
    if already:
        warnings.append(f"{already} personne(s) ont déclaré avoir déjà répondu : non "
                        "recomptées.")  # fmt: skip
    return warnings


__all__ = ["night_warnings"]
