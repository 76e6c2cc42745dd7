//! A team's claims on shared volumes: for an NFS volume a PersistentVolume (cluster-scoped,
//! Retain, pre-bound to the team's claim) and the claim; for a dynamic one only the claim.

use crate::expand::{data_meta, labels};
use crate::model::names::{self, VOLUME};
use crate::model::{Claim, Env, Team, Volume, VolumeBackend};
use crate::object::Object;
use k8s_openapi::api::core::v1::{
    NFSVolumeSource, ObjectReference, PersistentVolume, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeSpec, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;

pub fn objects(env: &Env, team: &Team) -> Vec<Object> {
    objects_named(env, team, &team.name)
}

/// `objects`, with the PersistentVolumes (cluster-scoped, so unique in the cluster) named
/// `<env>-<pv_key>-<volume>`: on `opendatahub` a member's project claims the volumes itself,
/// and its PersistentVolumes are `<team>-<slug>`'s, while every object stays labelled with the team.
pub fn objects_named(env: &Env, team: &Team, pv_key: &str) -> Vec<Object> {
    let mut out = Vec::new();
    for claim in &team.claims {
        let volume = &env.volumes[&claim.volume];
        if let VolumeBackend::Nfs { server, path } = &volume.backend {
            out.push(Object::from(persistent_volume(
                env, team, pv_key, claim, volume, server, path,
            )));
        }
        out.push(Object::from(shared_claim(env, team, pv_key, claim, volume)));
    }
    out
}

fn pv_name(env: &Env, pv_key: &str, volume: &str) -> String {
    names::persistent_volume(&env.name, pv_key, volume)
}

fn access_mode(claim: &Claim) -> Vec<String> {
    vec![
        if claim.writable {
            "ReadWriteMany"
        } else {
            "ReadOnlyMany"
        }
        .to_owned(),
    ]
}

fn volume_labels(env: &Env, team: &Team, volume: &str) -> BTreeMap<String, String> {
    let mut l = labels(env, team);
    l.insert(VOLUME.to_owned(), volume.to_owned());
    l
}

fn persistent_volume(
    env: &Env,
    team: &Team,
    pv_key: &str,
    claim: &Claim,
    volume: &Volume,
    server: &str,
    path: &str,
) -> PersistentVolume {
    PersistentVolume {
        metadata: data_meta(
            &pv_name(env, pv_key, &volume.name),
            None,
            volume_labels(env, team, &volume.name),
        ),
        spec: Some(PersistentVolumeSpec {
            access_modes: Some(access_mode(claim)),
            capacity: Some(BTreeMap::from([(
                "storage".to_owned(),
                Quantity(volume.size.text.clone()),
            )])),
            claim_ref: Some(ObjectReference {
                api_version: Some("v1".to_owned()),
                kind: Some("PersistentVolumeClaim".to_owned()),
                namespace: Some(team.namespace.clone()),
                name: Some(volume.name.clone()),
                ..ObjectReference::default()
            }),
            nfs: Some(NFSVolumeSource {
                server: server.to_owned(),
                path: path.to_owned(),
                read_only: (!claim.writable).then_some(true),
            }),
            persistent_volume_reclaim_policy: Some("Retain".to_owned()),
            // Empty: never let a default StorageClass provision something else for this claim.
            storage_class_name: Some(String::new()),
            volume_mode: Some("Filesystem".to_owned()),
            ..PersistentVolumeSpec::default()
        }),
        ..PersistentVolume::default()
    }
}

fn shared_claim(
    env: &Env,
    team: &Team,
    pv_key: &str,
    claim: &Claim,
    volume: &Volume,
) -> PersistentVolumeClaim {
    let (class, volume_name) = match &volume.backend {
        VolumeBackend::Nfs { .. } => (String::new(), Some(pv_name(env, pv_key, &volume.name))),
        VolumeBackend::StorageClass(class) => (class.clone(), None),
    };
    PersistentVolumeClaim {
        metadata: data_meta(
            &volume.name,
            Some(&team.namespace),
            volume_labels(env, team, &volume.name),
        ),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(access_mode(claim)),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(volume.size.text.clone()),
                )])),
                ..VolumeResourceRequirements::default()
            }),
            storage_class_name: Some(class),
            volume_mode: Some("Filesystem".to_owned()),
            volume_name,
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}
