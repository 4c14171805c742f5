package posture

import "github.com/portier/portier/store"

// texts are the notice's sentences in one language.
type texts struct {
	lang, title                                           string
	groups                                                map[string][2]string // group -> title, why
	never                                                 []string
	noApps, noLocation, locationOff, locationOn           string
	retPosture, retEvents, retActions, days, hours        string
	rights, contact                                       string
	hCollected, hNot, hLocation, hRetention, hActions     string
	hRights                                               string
	summaryCorp, summaryCOPE, summaryBYOD, summaryUnknown string
	lock, selWipe, wipe, msg                              string
}

func (t texts) summary(d *store.Device) string {
	switch {
	case d.Ownership == store.OwnershipBYOD || d.WorkProfile:
		return t.summaryBYOD
	case d.Ownership == store.OwnershipCorporate:
		return t.summaryCorp
	case d.Ownership == store.OwnershipCOPE:
		return t.summaryCOPE
	}
	return t.summaryUnknown
}

func (t texts) actions(d *store.Device) []string {
	out := []string{t.msg, t.lock, t.selWipe}
	if d.Ownership != store.OwnershipBYOD && !d.WorkProfile {
		out = append(out, t.wipe)
	}
	return out
}

func noticeTexts(lang string) texts {
	if lang == "fr" {
		return texts{
			lang:  "fr",
			title: "Ce que votre organisation peut voir sur cet appareil",
			groups: map[string][2]string{
				GroupSecurity: {"État de sécurité", "pour vérifier que l'appareil respecte les règles de sécurité avant de donner accès aux applications"},
				GroupSystem:   {"État du système", "pour le support informatique (pannes, disque plein, redémarrages)"},
				GroupApps:     {"Applications", "pour vérifier les applications exigées ou interdites sur un appareil de l'entreprise"},
				GroupLocation: {"Localisation", "uniquement pour la finalité et aux horaires indiqués ci-dessous"},
				GroupOther:    {"Autres informations techniques", "informations techniques de gestion"},
			},
			never: []string{
				"vos fichiers, documents, photos et vidéos",
				"vos courriels, messages et appels",
				"votre historique de navigation et le contenu de vos applications",
				"vos mots de passe et ce que vous tapez",
			},
			noApps:         "la liste de vos applications",
			noLocation:     "votre position",
			locationOff:    "Votre position n'est jamais collectée.",
			locationOn:     "Votre position n'est collectée que %s de %s à %s (heure de l'appareil), jamais en dehors, pour cette finalité : « %s ». Elle est effacée au bout de %s.",
			retPosture:     "le dernier état de sécurité envoyé est effacé s'il n'est pas renouvelé pendant %s",
			retEvents:      "l'historique de l'appareil (conformité, actions) est effacé au bout de %s",
			retActions:     "les actions à distance sont effacées %s après leur fin",
			days:           "%d jours",
			hours:          "%d heures",
			rights:         "Vous pouvez demander à voir les données collectées sur cet appareil, les faire corriger ou effacer dans les limites des obligations de l'employeur, et savoir qui les a consultées (RGPD, articles 15 à 21).",
			contact:        "Contact : %s.",
			hCollected:     "Ce qui est collecté",
			hNot:           "Ce qui n'est jamais collecté",
			hLocation:      "Localisation",
			hRetention:     "Durée de conservation",
			hActions:       "Ce que votre organisation peut faire à distance",
			hRights:        "Vos droits",
			summaryCorp:    "Cet appareil appartient à votre organisation et est géré par Portier. Votre organisation vérifie son état de sécurité pour protéger ses données.",
			summaryCOPE:    "Cet appareil appartient à votre organisation et vous pouvez aussi l'utiliser à titre personnel. Votre organisation vérifie son état de sécurité ; le détail de ce qu'elle voit est ci-dessous.",
			summaryBYOD:    "Cet appareil vous appartient. Seul le profil professionnel est géré : votre organisation voit uniquement l'état de sécurité nécessaire pour accéder à ses applications.",
			summaryUnknown: "Cet appareil n'est pas géré : rien n'est collecté.",
			msg:            "afficher un message sur l'appareil",
			lock:           "verrouiller l'écran",
			selWipe:        "supprimer le profil professionnel et ses données (vos données personnelles ne sont pas touchées)",
			wipe:           "effacer entièrement l'appareil (appareils de l'entreprise uniquement, en cas de perte ou de vol)",
		}
	}
	return texts{
		lang:  "en",
		title: "What your organization can see on this device",
		groups: map[string][2]string{
			GroupSecurity: {"Security state", "to check that the device meets the security rules before it may reach company apps"},
			GroupSystem:   {"System health", "for IT support (crashes, full disks, restarts)"},
			GroupApps:     {"Applications", "to check required or forbidden applications on a company device"},
			GroupLocation: {"Location", "only for the purpose and at the hours below"},
			GroupOther:    {"Other technical details", "technical management data"},
		},
		never: []string{
			"your files, documents, photos and videos",
			"your e-mails, messages and calls",
			"your browsing history and what you do inside apps",
			"your passwords and what you type",
		},
		noApps:         "the list of your applications",
		noLocation:     "your location",
		locationOff:    "Your location is never collected.",
		locationOn:     "Your location is collected only on %s from %s to %s (the device's local time), never outside those hours, for this purpose: \"%s\". It is deleted after %s.",
		retPosture:     "the latest security state sent is deleted if it is not renewed within %s",
		retEvents:      "the device's history (compliance, actions) is deleted after %s",
		retActions:     "remote actions are deleted %s after they finish",
		days:           "%d days",
		hours:          "%d hours",
		rights:         "You can ask to see the data collected from this device, have it corrected or deleted within your employer's legal obligations, and know who looked at it (GDPR, articles 15 to 21).",
		contact:        "Contact: %s.",
		hCollected:     "What is collected",
		hNot:           "What is never collected",
		hLocation:      "Location",
		hRetention:     "How long it is kept",
		hActions:       "What your organization can do remotely",
		hRights:        "Your rights",
		summaryCorp:    "This device belongs to your organization and is managed by Portier. Your organization checks its security state to protect its data.",
		summaryCOPE:    "This device belongs to your organization and you may also use it privately. Your organization checks its security state; exactly what it sees is listed below.",
		summaryBYOD:    "This device is yours. Only the work profile is managed: your organization sees only the security state it needs before letting the device reach its apps.",
		summaryUnknown: "This device is not managed: nothing is collected.",
		msg:            "show a message on the device",
		lock:           "lock the screen",
		selWipe:        "remove the work profile and its data (your personal data is not touched)",
		wipe:           "erase the whole device (company devices only, when it is lost or stolen)",
	}
}
